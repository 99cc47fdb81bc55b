"""Pure domain core of the feedback service: surveys, metrics, themes, follow-ups, KPIs.

Nothing here touches gRPC, the database or the clock: every function that needs "now"
takes it as an argument. The servicer and repository layers call these functions and
own persistence (dispatch state, used tokens, snapshots).

Modules:

- ``surveys``: versioned survey definitions, answer validation, event triggers;
- ``tokens``: one-time answer tokens (HMAC), verified in constant time;
- ``metrics``: NPS, CSAT, response rate and group-by aggregation with intervals;
- ``themes``: keyword themes of free text; ``risk_signals``: risk signals in answers;
- ``followups``: post-loan follow-up plans, overdue checks, visit validation;
- ``kpi``: RM KPI scorecards with versioned weights and ranking;
- ``approval_timelines`` / ``approvals``: approval-stage timelines, stats, bottlenecks.

Synthetic data with planted truth for tests and the demo lives in ``crm_sim.feedback``.
"""
