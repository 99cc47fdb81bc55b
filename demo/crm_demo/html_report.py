"""The demo day's HTML report: one self-contained page, charts that work offline.

The page is rendered by Jinja2 from the structure crm_demo.report_data collects. It carries
that structure as a JSON data island (`<script type="application/json" id="demo-data">`), the
charts are plotly figures built from the same structure, and every number in its tables sits
in a cell marked `data-key`, so a test can hold each visible figure against the APIs.
plotly.js is embedded once in the page's head (about 4.7 MB), not once per chart, so the
file opens without a network.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go  # type: ignore[import-untyped]
import plotly.io as pio  # type: ignore[import-untyped]
from jinja2 import Environment, FileSystemLoader, select_autoescape
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from crm_client.segmentation.features import MASTER_SCALE

Data = dict[str, Any]
TEMPLATES = Path(__file__).with_name("templates")
LEVEL_COLOURS = {"red": "#d62728", "orange": "#ff7f0e", "yellow": "#e7ba00", "blue": "#1f77b4"}


def _html(fig: go.Figure, title: str) -> str:
    fig.update_layout(title=title, margin={"l": 60, "r": 20, "t": 50, "b": 60},
                      template="plotly_white")
    if fig.layout.height is None:
        fig.update_layout(height=380)
    return str(pio.to_html(fig, include_plotlyjs=False, full_html=False,
                           config={"displaylogo": False, "responsive": True}))


def _segments(data: Data) -> go.Figure:
    rows = [s for s in data["segments"] if s["members"]]
    fig = go.Figure(go.Bar(x=[s["members"] for s in rows], y=[s["name"] for s in rows],
                           orientation="h", marker_color="#4c78a8"))
    # One label per bar: plotly would otherwise skip every other category name.
    return fig.update_layout(height=max(380, 22 * len(rows)),
                             yaxis={"dtick": 1, "automargin": True})


def _grades(data: Data) -> go.Figure:
    order = [g for g in MASTER_SCALE if g in data["grades"]]
    return go.Figure(go.Bar(x=order, y=[data["grades"][g] for g in order],
                            marker_color="#54a24b"))


def _migration(data: Data) -> go.Figure:
    grades = [g for g in MASTER_SCALE
              if any(g in (m["from"], m["to"]) for m in data["migration"])]
    cell = {(m["from"], m["to"]): m["clients"] for m in data["migration"]}
    return go.Figure(go.Heatmap(
        x=grades, y=grades, z=[[cell.get((a, b), 0) for b in grades] for a in grades],
        colorscale="Blues", hovertemplate="from %{y} to %{x}: %{z}<extra></extra>"))


def _warnings(data: Data) -> go.Figure:
    levels = [lv for lv in LEVEL_COLOURS if lv in data["warnings"]["by_level"]]
    return go.Figure(go.Bar(x=levels, y=[data["warnings"]["by_level"][lv] for lv in levels],
                            marker_color=[LEVEL_COLOURS[lv] for lv in levels]))


def _patterns(data: Data) -> go.Figure:
    rows = data["monitoring"]
    return go.Figure([
        go.Bar(name="recall", x=[r["pattern"] for r in rows], y=[r["recall"] for r in rows]),
        go.Bar(name="precision", x=[r["pattern"] for r in rows],
               y=[r["precision"] or 0 for r in rows]),
    ]).update_layout(barmode="group", yaxis={"range": [0, 1]})


def _industries(data: Data) -> go.Figure:
    """Each industry limit's use (share of the limit taken) with its headroom on the bar."""
    limits = data["concentration"]["industry_limits"]
    fig = go.Figure(go.Bar(
        x=[u["key"] for u in limits],
        y=[u["used_share"] / u["limit_share"] if u["limit_share"] else 0 for u in limits],
        text=[f"headroom {u['headroom'] / 1e8:,.0f} 亿" for u in limits],
        marker_color=["#d62728" if u["breached"] else "#4c78a8" for u in limits]))
    # No line at 100 %: with the demo's small book against the bank's loan book every use is
    # a few per cent, and the line would flatten the bars; breached limits are drawn red.
    return fig.update_layout(yaxis={"tickformat": ".1%",
                                    "title": "use of the industry limit (limit = 100 %)"})


def _notifications(data: Data) -> go.Figure:
    states = sorted({n["state"] for n in data["notifications"]})
    channels = sorted({n["channel"] for n in data["notifications"]})
    count = {(n["channel"], n["state"]): n["count"] for n in data["notifications"]}
    return go.Figure([go.Bar(name=st, x=channels, y=[count.get((ch, st), 0) for ch in channels])
                      for st in states]).update_layout(barmode="stack")


def _satisfaction(data: Data) -> go.Figure:
    rows = [r for r in data["satisfaction"] if r["nps"] is not None]
    fig = go.Figure(go.Bar(name="NPS", x=[r["segment"] for r in rows], y=[r["nps"] for r in rows],
                           marker_color="#72b7b2"))
    fig.add_trace(go.Scatter(name="CSAT satisfied share", mode="markers", yaxis="y2",
                             x=[r["segment"] for r in rows], y=[r["csat"] for r in rows]))
    return fig.update_layout(yaxis2={"overlaying": "y", "side": "right", "range": [0, 1],
                                     "tickformat": ".0%"})


def _kpi(data: Data) -> go.Figure:
    rows = [r for r in data["kpi"]["ranking"] if r["score"] is not None][::-1]
    return go.Figure(go.Bar(x=[r["score"] for r in rows], y=[r["subject"] for r in rows],
                            orientation="h", marker_color="#b279a2")).update_layout(
        height=max(380, 18 * len(rows)))


def _approvals(data: Data) -> go.Figure:
    stages = data["approvals"]["stages"]
    order = list(dict.fromkeys(s["stage"] for s in stages))
    fig = go.Figure()
    for branch in sorted({s["branch"] for s in stages}):
        by_stage = {s["stage"]: s["p90_h"] for s in stages if s["branch"] == branch}
        fig.add_trace(go.Bar(name=branch, x=order, y=[by_stage.get(st, 0) for st in order]))
    worst = max(data["approvals"]["bottlenecks"], key=lambda b: b["p90_h"], default=None)
    if worst is not None:
        fig.add_annotation(x=worst["stage"], y=worst["p90_h"], showarrow=True, arrowhead=2,
                           text=f"bottleneck: {worst['branch']} {worst['stage']}")
    return fig.update_layout(barmode="group", yaxis={"title": "p90 wait + processing (h)"})


CHARTS = (
    ("segments", "Segment sizes", _segments),
    ("grades", "Credit grades held by the client service", _grades),
    ("migration", "Grade migration (first rating -> latest)", _migration),
    ("warnings", "Warnings by level", _warnings),
    ("patterns", "Monitoring recall and precision by pattern", _patterns),
    ("industries", "Concentration by industry: use of each limit, headroom", _industries),
    ("notifications", "Notifications by channel and status", _notifications),
    ("satisfaction", "NPS and CSAT by segment", _satisfaction),
    ("kpi", "RM KPI ranking", _kpi),
    ("approvals", "Approval-stage durations (p90) by branch", _approvals),
)


def render(data: Data) -> str:
    """Return the report page for `data`."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    charts = {key: _html(build(data), title) for key, title, build in CHARTS}
    island = json.dumps(data, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    return env.get_template("report.html.j2").render(
        data=data, charts=charts, island=island, plotly_js=get_plotlyjs(),
        level_colours=LEVEL_COLOURS)


def write(data: Data, path: Path) -> Path:
    """Write the report page to `path` and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(data), encoding="utf-8")
    return path
