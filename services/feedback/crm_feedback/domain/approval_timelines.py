"""Rebuild loan-approval case timelines from stage events that arrive out of order.

Loan origination streams ``entered`` / ``completed`` events per stage. Delivery is
at-least-once and unordered, so :func:`reconstruct_cases` must give the same result for
any order and any number of copies of the same events:

1. **dedupe** by ``event_id``; if copies disagree (a producer bug), the copy that sorts
   first by content wins, so the choice does not depend on arrival order, and the case
   records an anomaly;
2. **pair** per stage, in time order (an entry sorts before a completion at the same
   instant): each ``entered`` opens a visit of that stage and the next ``completed``
   closes it. A second entry while a visit is open, and a completion with nothing open,
   are ignored and recorded as anomalies rather than guessed at;
3. **rework**: a stage visited again (its second and later visits) is a rework loop,
   typically a case sent back from a later stage (committee → due diligence);
4. **waiting time** of a visit = its entry − the latest completion of any other visit at
   or before that entry (the hand-over); None for the first stage of a case.
   **Processing time** = completion − entry; None while the visit is open.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

Stage = Literal[
    "application_received",
    "due_diligence",
    "credit_review",
    "committee",
    "approval",
    "contract",
    "disbursement",
]
STAGES: Final[tuple[Stage, ...]] = (
    "application_received",
    "due_diligence",
    "credit_review",
    "committee",
    "approval",
    "contract",
    "disbursement",
)
EventKind = Literal["entered", "completed"]
_KIND_ORDER: Final = {"entered": 0, "completed": 1}
_STAGE_ORDER: Final = {stage: index for index, stage in enumerate(STAGES)}


@dataclass(frozen=True, slots=True)
class StageEvent:
    """One event from loan origination; ``event_id`` is unique per real event."""

    event_id: str
    case_id: str
    branch: str
    product: str
    stage: Stage
    kind: EventKind
    at: datetime
    actor: str


@dataclass(frozen=True, slots=True)
class StageVisit:
    """One pass of a case through a stage; ``visit_index`` counts passes from 0."""

    stage: Stage
    visit_index: int
    entered_at: datetime
    completed_at: datetime | None
    wait: timedelta | None
    processing: timedelta | None
    entered_by: str
    completed_by: str | None

    @property
    def rework(self) -> bool:
        """Tell whether this is a repeated pass through the stage (a rework loop)."""
        return self.visit_index > 0

    @property
    def total(self) -> timedelta | None:
        """Return waiting plus processing time (wait counts as 0 if unknown); None if open."""
        if self.processing is None:
            return None
        return self.processing + (self.wait or timedelta(0))


@dataclass(frozen=True, slots=True)
class CaseTimeline:
    """A case's stage visits in entry order, with anything odd found on the way."""

    case_id: str
    branch: str
    product: str
    visits: tuple[StageVisit, ...]
    anomalies: tuple[str, ...]

    @property
    def rework_count(self) -> int:
        """Return how many visits were rework loops."""
        return sum(1 for visit in self.visits if visit.rework)

    @property
    def disbursed(self) -> bool:
        """Tell whether the case reached a completed disbursement."""
        return any(v.stage == "disbursement" and v.completed_at for v in self.visits)


def _event_order(event: StageEvent) -> tuple[datetime, int, int, str, str, str, str, str]:
    """Return a total order over events that depends only on their content."""
    return (
        event.at,
        _STAGE_ORDER[event.stage],
        _KIND_ORDER[event.kind],
        event.event_id,
        event.case_id,
        event.actor,
        event.branch,
        event.product,
    )


def _check(event: StageEvent) -> None:
    """Raise ValueError for an event the ingestion layer should have rejected."""
    if event.stage not in _STAGE_ORDER or event.kind not in _KIND_ORDER:
        msg = f"event {event.event_id}: unknown stage {event.stage!r} or kind {event.kind!r}"
        raise ValueError(msg)
    if event.at.tzinfo is None or event.at.utcoffset() is None:
        msg = f"event {event.event_id}: 'at' must be timezone-aware"
        raise ValueError(msg)


def _pair_stage(
    stage: Stage, events: list[StageEvent], anomalies: list[str]
) -> list[tuple[datetime, datetime | None, str, str | None]]:
    """Pair one stage's events into (entered, completed, entered_by, completed_by) visits."""
    visits: list[tuple[datetime, datetime | None, str, str | None]] = []
    open_entry: StageEvent | None = None
    for event in sorted(events, key=lambda e: (e.at, _KIND_ORDER[e.kind], e.event_id)):
        if event.kind == "entered":
            if open_entry is not None:
                anomalies.append(f"{stage}: entered again at {event.at.isoformat()} while open")
                continue
            open_entry = event
        elif open_entry is None:
            anomalies.append(f"{stage}: completed at {event.at.isoformat()} without an entry")
        else:
            visits.append((open_entry.at, event.at, open_entry.actor, event.actor))
            open_entry = None
    if open_entry is not None:
        visits.append((open_entry.at, None, open_entry.actor, None))
    return visits


def _build_case(case_id: str, events: list[StageEvent], anomalies: list[str]) -> CaseTimeline:
    """Build one case's timeline from its deduplicated events."""
    first = min(events, key=_event_order)
    if len({(e.branch, e.product) for e in events}) > 1:
        anomalies.append("events disagree on branch/product; the earliest event's are used")
    by_stage: dict[Stage, list[StageEvent]] = defaultdict(list)
    for event in events:
        by_stage[event.stage].append(event)
    raw: list[tuple[Stage, int, datetime, datetime | None, str, str | None]] = []
    for stage in STAGES:
        for index, (entered, completed, by_in, by_out) in enumerate(
            _pair_stage(stage, by_stage.get(stage, []), anomalies)
        ):
            raw.append((stage, index, entered, completed, by_in, by_out))
    raw.sort(key=lambda item: (item[2], _STAGE_ORDER[item[0]], item[1]))
    visits: list[StageVisit] = []
    for position, (stage, index, entered, completed, by_in, by_out) in enumerate(raw):
        # Latest hand-over: another visit's completion at or before this entry. The visit's
        # own completion is excluded: it can equal the entry (a zero-length visit).
        handovers = [
            item[3]
            for other, item in enumerate(raw)
            if other != position and item[3] is not None and item[3] <= entered
        ]
        wait = entered - max(handovers) if handovers else None
        processing = completed - entered if completed is not None else None
        visits.append(
            StageVisit(stage, index, entered, completed, wait, processing, by_in, by_out)
        )
    return CaseTimeline(case_id, first.branch, first.product, tuple(visits), tuple(anomalies))


def reconstruct_cases(events: Iterable[StageEvent]) -> dict[str, CaseTimeline]:
    """Return each case's timeline, keyed and sorted by case id."""
    unique: dict[str, StageEvent] = {}
    conflicts: set[str] = set()
    for event in events:
        _check(event)
        kept = unique.get(event.event_id)
        if kept is None:
            unique[event.event_id] = event
        elif kept != event:
            conflicts.add(event.event_id)
            unique[event.event_id] = min(kept, event, key=_event_order)
    by_case: dict[str, list[StageEvent]] = defaultdict(list)
    for event in unique.values():
        by_case[event.case_id].append(event)
    anomalies: dict[str, list[str]] = defaultdict(list)
    for event_id in sorted(conflicts):
        anomalies[unique[event_id].case_id].append(f"conflicting copies of event {event_id}")
    return {
        case_id: _build_case(case_id, by_case[case_id], anomalies[case_id])
        for case_id in sorted(by_case)
    }
