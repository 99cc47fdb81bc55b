"""The stored record of a rating's inputs is the JSON of ``asdict`` (as it always was)."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

from rating_support import STRONG, WEAK, inputs, strong_statement, weak_statement

from crm_risk.rating.model.caps import OpenWarning
from crm_risk.rating.model.scorecard import RepaymentHistory, SignalCounts
from crm_risk.rating.rate import inputs_record


def test_inputs_record_equals_asdict_json():
    """Features with ratios and NaN, no statement, counts, warnings: the same text."""
    cases = [
        STRONG, WEAK, inputs(weak_statement(2024)),
        replace(inputs(strong_statement(2024), weak_statement(2025)),
                repayment=RepaymentHistory(40, 2), signals=SignalCounts(litigation=1),
                open_warnings=(OpenWarning("external", "cross_default", "red"),
                               OpenWarning("monitoring", "round_trip", "orange")),
                floating_rate_debt_share=0.4, has_npl_facility=True),
        replace(STRONG, features=None, audit_opinion="none", size_class="small"),
    ]
    for case in cases:
        assert inputs_record(case) == json.dumps(asdict(case), default=str)
