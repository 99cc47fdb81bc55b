"""Contagion: trouble at one client warns the clients tied to it by groups and guarantees.

Triggers (each calls `spread` inside the transaction that records the trouble): a rating that
falls to the configured grade or worse (B- by default), a red warning of any other rule, and
a facility classified non-performing (which covers a defaulting guarantor). Every client
within the configured depth (2 by default) of the graph in crm_risk.groups.graph gets a
linked warning naming the source client and the path, orange one step away and yellow
further out, and is asked for an event-triggered re-rating. Guarantee circles found when a
guarantee is recorded put a warning on each circle member.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from crm_risk.early_warnings import Signal, raise_signals
from crm_risk.groups.graph import neighbours, related
from crm_risk.groups.store import load_graph
from crm_risk.models import ClassificationChangeRow, ClientFactRow
from crm_risk.rating.model.classification import is_npl
from crm_runtime.outbox import Outbox

RULE = "contagion"
CIRCLE_RULE = "guarantee_circle"
RULE_VERSION = "CONTAGION-2026.1"
ACTOR = "systems/risk-contagion"

if TYPE_CHECKING:
    from crm_risk.config import RiskSettings


@dataclass(frozen=True)
class Contagion:
    """When contagion starts (a fall to `grade` or worse) and how far it reaches; the
    crm_risk.linked.Linked that warning and rating code is handed."""

    grade: str = "B-"
    depth: int = 2

    @classmethod
    def of(cls, settings: RiskSettings) -> Contagion:
        """Return the configured contagion (CONTAGION_GRADE, CONTAGION_DEPTH)."""
        return cls(grade=settings.contagion_grade, depth=settings.contagion_depth)

    async def spread(
        self, session: AsyncSession, outbox: Outbox, client_id: str, *, cause: str,
        now: datetime,
    ) -> list[str]:
        """Warn the clients related to `client_id`; return their ids."""
        return await spread(session, outbox, client_id, cause=cause, now=now, depth=self.depth)


def _name(client_id: str) -> str:
    return f"clients/{client_id}"


async def spread(
    session: AsyncSession, outbox: Outbox, source: str, *, cause: str, now: datetime,
    depth: int,
) -> list[str]:
    """Warn the clients related to `source` and ask for their re-rating; return their ids."""
    graph = await load_graph(session)
    reached = related(source, neighbours(graph.edges, graph.groups), depth)
    if not reached:
        return []
    signals = [
        Signal(
            client_id=r.client, rule=RULE, source="contagion",
            level="orange" if r.depth == 1 else "yellow", scope=_name(source),
            message=(f"contagion from {_name(source)} ({cause}) via "
                     + " → ".join(_name(c) for c in r.path))[:500],
            rule_version=RULE_VERSION, detect_time=now,
            facts={"source_client": _name(source), "cause": cause, "depth": r.depth,
                   "path": ",".join(_name(c) for c in r.path)},
        )
        for r in reached
    ]
    await raise_signals(session, outbox, signals, now=now, actor=ACTOR)
    await session.flush()
    clients = [r.client for r in reached]
    await session.execute(
        update(ClientFactRow).where(col(ClientFactRow.client_id).in_(clients))
        .values(rerate_requested=True, rerate_reason=f"contagion from {_name(source)}"[:200],
                update_time=now)
        .execution_options(synchronize_session="fetch")
    )
    return clients


async def warn_circles(
    session: AsyncSession, outbox: Outbox, found: Iterable[tuple[tuple[str, ...], Decimal]],
    *, now: datetime,
) -> None:
    """Put one warning per circle on each of its members (folded while it stays open)."""
    signals = [
        Signal(
            client_id=member, rule=CIRCLE_RULE, source="guarantee_circle", level="orange",
            scope=",".join(circle)[:200],
            message=(f"member of a guarantee circle of {len(circle)} clients "
                     f"({', '.join(_name(c) for c in circle)}), {amount} yuan")[:500],
            rule_version=RULE_VERSION, detect_time=now,
            facts={"circle": ",".join(_name(c) for c in circle), "amount_cny": amount},
        )
        for circle, amount in found
        for member in circle
    ]
    await raise_signals(session, outbox, signals, now=now, actor=ACTOR)


async def after_reclassification(
    session: AsyncSession, outbox: Outbox, client_id: str,
    changes: Iterable[ClassificationChangeRow], *, now: datetime, contagion: Contagion,
) -> None:
    """Spread when one of the client's facilities just turned non-performing (a defaulting
    guarantor is one such client: its guarantees lead to the clients it guarantees)."""
    if any(c.previous_category and not is_npl(c.previous_category) and is_npl(c.category)
           for c in changes):
        await contagion.spread(session, outbox, client_id, cause="facility non-performing",
                               now=now)
