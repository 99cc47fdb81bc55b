"""Print what the analytics find in the synthetic data.

Run ``python -m crm_sim.feedback.report``. The report shows the slowest
approval stages per branch next to the planted truth, overall and per-RM NPS/CSAT, and
the themes of the synthetic comments.
"""

from __future__ import annotations

from datetime import timedelta

from crm_feedback.domain.approvals import bottlenecks, reconstruct_cases, stage_stats
from crm_feedback.domain.metrics import aggregate
from crm_feedback.domain.themes import theme_counts
from crm_sim.feedback.world import generate_approval_events, generate_survey_answers


def _hours(value: timedelta | None) -> str:
    """Format a duration in hours for the report."""
    return "-" if value is None else f"{value.total_seconds() / 3600:7.1f}h"


def _share(value: float | None) -> str:
    """Format a 0..1 share as a percentage."""
    return "-" if value is None else f"{100 * value:5.1f}%"


def render_report(*, seed: int = 7) -> str:
    """Return the report text for data generated with ``seed``."""
    data = generate_approval_events(seed=seed)
    timelines = reconstruct_cases(data.delivered)
    lines = [
        f"Approval events: {len(data.delivered)} delivered, {len(data.clean)} unique, "
        f"{data.n_cases} cases",
        f"Planted: {data.planted.stage} in {data.planted.branch} x{data.planted.factor:g}",
        "",
        "Top 3 bottlenecks per branch (p90 total = wait + processing):",
    ]
    for item in bottlenecks(stage_stats(timelines, by=("branch",))):
        if item.rank <= 3:
            lines.append(
                f"  {item.group[0]:<10} #{item.rank} {item.stage:<22} p90 {_hours(item.total_p90)}"
                f"  p50 {_hours(item.total_p50)}  SLA breaches {_share(item.breach_rate)}"
            )
    survey = generate_survey_answers(seed=seed)
    lines += ["", f"Survey: planted NPS {survey.expected_nps:.1f}"]
    for key, group in aggregate(survey.rows, by=("rm_id",)).items():
        nps = group.nps
        lines.append(
            f"  {key[0]:<8} n={nps.n:<4} NPS {nps.nps or 0:6.1f} "
            f"[{nps.ci_low or 0:6.1f}, {nps.ci_high or 0:6.1f}]  "
            f"CSAT {_share(group.csat.satisfied_share)}  response {_share(group.response_rate)}"
        )
    lines += ["", "Comment themes:"]
    lines += [
        f"  {count.theme:<20} {count.count:>3}  e.g. {count.example}"
        for count in theme_counts(text for text, _ in survey.comments)
    ]
    return "\n".join(lines)


def main() -> None:
    """Print the report for the default seed."""
    print(render_report())


if __name__ == "__main__":
    main()
