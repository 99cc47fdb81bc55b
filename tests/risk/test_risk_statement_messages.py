"""Pure statements ↔ FinancialStatement messages: what a loader submits is what risk parses."""

from __future__ import annotations

from crm_risk.rating.statement_input import parse_statement, to_message
from crm_sim.rating.book import generate_book


def test_synthetic_statements_survive_the_message_round_trip():
    """Every amount (the CAS items included), period, audit field and founding date of the
    generator's statements comes back unchanged."""
    book = generate_book(seed=3, n_clients=20)
    statements = [s for firm in book.firms for s in firm.statements.values()]
    assert len(statements) > 100
    assert any(s.balance.notes_payable > 0 for s in statements)
    assert any(s.income.capitalised_interest > 0 for s in statements)
    assert any(s.founding_date is not None for s in statements)
    for statement in statements:
        parsed, _ = parse_statement(to_message(statement))
        assert parsed == statement
