"""The demo day's closing summary in the terminal, rendered from the report's data.

It prints the same structure the HTML report renders (crm_demo.report_data), one or two
lines per area, so the terminal and the page can never disagree.
"""

from __future__ import annotations

from typing import Any

from crm_client.segmentation.features import MASTER_SCALE

Data = dict[str, Any]


def _top(pairs: dict[str, int], n: int) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(pairs.items(), key=lambda kv: -kv[1])[:n])


def lines(data: Data) -> list[str]:
    """Return the summary's lines."""
    steps = data["steps"]
    grades = data["grades"]
    moved = [m for m in data["migration"] if m["from"] != m["to"]]
    conc = data["concentration"]
    channels: dict[str, int] = {}
    for n in data["notifications"]:
        channels[n["channel"]] = channels.get(n["channel"], 0) + n["count"]
    states: dict[str, int] = {}
    for n in data["notifications"]:
        states[n["state"]] = states.get(n["state"], 0) + n["count"]
    sat = [r for r in data["satisfaction"] if r["nps"] is not None]
    kpi = [r for r in data["kpi"]["ranking"] if r["score"] is not None]
    comm = steps.get("communication", {})
    fb = steps.get("feedback", {})
    risk = steps.get("risk_day", {})
    override = risk.get("override", {})
    return [
        "Demo day summary (read back from the services' APIs):",
        f"  segments      {len([s for s in data['segments'] if s['members']])} non-empty of "
        f"{len(data['segments'])}; largest: "
        + _top({s["name"]: s["members"] for s in data["segments"]}, 3),
        "  grades        " + ", ".join(f"{g} {grades[g]}" for g in MASTER_SCALE if g in grades)
        + f"; unrated {grades.get('unrated', 0)}; {sum(m['clients'] for m in moved)} clients "
        "moved grade since their first rating",
        "  warnings      " + _top(data["warnings"]["by_level"], 4) + "; by rule: "
        + _top(data["warnings"]["by_rule"], 4),
        "  monitoring    " + ", ".join(
            f"{p['pattern']} recall {p['recall']:.0%}" for p in data["monitoring"]),
        f"  alerts        {comm.get('alerts', 0)} in notify (a task and a push each), "
        f"{comm.get('escalated', 0)} escalated so far, one acknowledged by its RM; "
        f"escalation: {comm.get('ladder', '-')}",
        "  notifications " + _top(channels, 5) + "; by status: " + _top(states, 6),
        f"  providers     SMS gateway received {data['providers']['sms_received']}, SMTP "
        f"server {data['providers']['mails_received']} mails",
        "  campaigns     " + "; ".join(
            f"{c['display']}: {c['recipients']} recipients, {c['messages']} messages, "
            f"{c['delivered']} delivered, {c['sent']} sent, {c['queued']} queued"
            for c in data["campaigns"]),
        f"  surveys       {fb.get('surveys_sent', 0)} sent, {fb.get('answered', 0)} answered; "
        "NPS / CSAT satisfied by segment: " + ", ".join(
            f"{r['segment']} {r['nps']:+.0f} / "
            + (f"{r['csat']:.0%}" if r["csat"] is not None else "-") for r in sat[:5]),
        f"  follow-ups    {fb.get('visits', 0)} visits, signals "
        f"{', '.join(fb.get('visit_signals', [])) or 'none'} -> "
        f"{fb.get('visit_warning_level', 'none')} warning; "
        f"{fb.get('overdue_followups', 0)} planned visits overdue",
        f"  KPIs          {data['kpi']['period']}: {len(kpi)} RMs ranked; first "
        + (f"{kpi[0]['subject']} {kpi[0]['score']:.1f}, last {kpi[-1]['subject']} "
           f"{kpi[-1]['score']:.1f}" if kpi else "none"),
        f"  concentration HHI {conc['client_hhi']:.4f}, top 10 {conc['top10_share']:.1%}; "
        f"what-if breaches: {'; '.join(risk.get('what_if_breaches', [])) or 'none'}",
        "  five-category " + "; ".join(
            f"{m[1]} -> {m[2]}" for m in risk.get("classification_moves", [])),
        f"  override      {override.get('from', '?')} -> {override.get('to', '?')}, "
        f"self-approval {override.get('self_approval', '?')}, then {override.get('state', '?')}"
        f" by {override.get('approver', '?')}",
        "  approvals     bottlenecks: " + ", ".join(
            f"{b['branch']} {b['stage']} p90 {b['p90_h']} h"
            for b in data["approvals"]["bottlenecks"]),
        "  seconds       " + ", ".join(f"{k} {v:.0f}" for k, v in data.get("seconds", {}).items()),
    ]


def show(data: Data) -> None:
    """Print the summary."""
    print("\n" + "\n".join(lines(data)))
