"""Pure statements ↔ FinancialStatement messages: what a loader submits is what risk parses."""

from __future__ import annotations

from crm_risk.rating.synthetic import generate_history
from crm_risk.statement_input import parse_statement, to_message


def test_synthetic_statements_survive_the_message_round_trip():
    """Every amount, period and audit field of 60 synthetic statements comes back unchanged."""
    statements = [s for record in generate_history(n_clients=20, seed=3) for s in record.statements]
    assert len(statements) == 60
    for statement in statements:
        parsed, _ = parse_statement(to_message(statement))
        assert parsed == statement
