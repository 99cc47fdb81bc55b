"""The labelled synthetic stream through the real service meets the monitoring goals."""

from __future__ import annotations

import pytest

from crm_risk.evaluate_service import format_stats, main, run_evaluation
from crm_risk.monitoring.synthetic import generate_stream


class TestThroughTheService:
    async def test_every_pattern_is_found_and_clean_clients_stay_quiet(self):
        """Recall ≥ 95 % per pattern and a false-warning rate ≤ 2 %, read back through the
        API after streaming every transaction over MonitorTransactions."""
        data = generate_stream(n_clients=90, seed=3, days=40)
        result, stats = await run_evaluation(data, batch_size=300)
        assert stats.transactions == len(data.transactions)
        assert all(p.injected > 0 for p in result.patterns)
        assert result.meets_goals(), [
            (p.pattern, p.recall, p.precision) for p in result.patterns
        ] + [result.false_warning_rate]
        assert "receipt-to-commit" in format_stats(stats)

    def test_command_rejects_bad_arguments(self):
        """The command line refuses a share outside [0, 1] before starting anything."""
        with pytest.raises(ValueError, match="misuse_share"):
            main(["--clients", "5", "--misuse-share", "2"])
