"""Fan-out of one template to many recipients inside the caller's transaction.

Used by campaigns, event handlers and escalations: preferences and recent sends are loaded for
the whole batch at once, each recipient is planned and rendered, and every message of the batch
is written together. Wake-ups for streams and workers run after the transaction commits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from crm_notify.context import NotifyContext
from crm_notify.domain.template_types import RenderedMessage, RenderError
from crm_notify.enqueue import Outgoing, Written, wake_after_commit, write_notifications
from crm_notify.planner import (
    Plan,
    is_default,
    load_preferences,
    load_recent_sends,
    plan_delivery,
    recipient_class,
)
from crm_notify.templates_store import LoadedTemplate
from crm_runtime.logging import get_logger

log = get_logger("dispatch")


@dataclass(frozen=True)
class Target:
    """A recipient and its personal template values."""

    recipient: str
    variables: Mapping[str, str] = field(default_factory=dict)


@dataclass
class DispatchResult:
    """What a fan-out wrote and what it skipped."""

    written: Written
    suppressed: int = 0
    render_failures: int = 0
    planned: dict[str, str] = field(default_factory=dict)


def on_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Run `callback` once, after the session's transaction commits (not on rollback)."""

    def fire(_session: object) -> None:
        callback()

    event.listen(session.sync_session, "after_commit", fire, once=True)


async def dispatch(
    session: AsyncSession,
    ctx: NotifyContext,
    *,
    template: LoadedTemplate,
    targets: Sequence[Target],
    shared: Mapping[str, str],
    urgency: str,
    now: datetime,
    default_channels: Sequence[str] = (),
    campaign: str | None = None,
    alert: str = "",
    client: str = "",
    task_due: datetime | None = None,
) -> DispatchResult:
    """Plan, render and write one notification per target; wake streams after commit."""
    settings = ctx.settings
    recipients = [t.recipient for t in targets]
    prefs = await load_preferences(session, recipients, settings.default_time_zone)
    recent = await load_recent_sends(session, recipients, template.category, prefs, now)
    items: list[Outgoing] = []
    result = DispatchResult(Written())
    # Recipients without stored preferences or recent sends plan alike, and recipients with
    # the same locale and values render alike: a campaign computes each once.
    plans: dict[str, Plan] = {}
    renders: dict[tuple[str, tuple[tuple[str, str], ...]], RenderedMessage | RenderError] = {}
    for target in targets:
        recipient_prefs = prefs[target.recipient]
        sends = recent[target.recipient]
        memo = (
            recipient_class(target.recipient) if is_default(recipient_prefs) and not sends else ""
        )
        plan = plans.get(memo) if memo else None
        if plan is None:
            plan = plan_delivery(
                recipient=target.recipient,
                category=template.category,
                urgency=urgency,
                prefs=recipient_prefs,
                now=now,
                recent_sends=sends,
                default_channels=default_channels,
                available=ctx.channels_available,
                default_locale=settings.default_locale,
            )
            if memo:
                plans[memo] = plan
        result.planned[target.recipient] = plan.action
        if plan.action == "suppress":
            result.suppressed += 1
            continue
        locale = template.compiled.resolve_locale(plan.locale)
        key = (locale, tuple(sorted(target.variables.items())))
        rendered = renders.get(key)
        if rendered is None:
            try:
                rendered = template.compiled.render({**shared, **target.variables}, locale=locale)
            except RenderError as exc:
                rendered = exc
            renders[key] = rendered
        if isinstance(rendered, RenderError):
            # One recipient's bad personal value must not stop the others.
            log.warning("render failed", template=template.template_id, variable=rendered.variable)
            result.render_failures += 1
            continue
        items.append(
            Outgoing(
                recipient=target.recipient,
                category=template.category,
                urgency=urgency,
                locale=locale,
                subject=rendered.subject,
                body=rendered.body,
                template=template.template_id,
                channels=plan.channels,
                not_before=plan.not_before,
                campaign=campaign,
                alert=alert,
                client=client,
                task_due=task_due,
            )
        )
    written = await write_notifications(session, items, now=now, ttl=ctx.message_ttl)
    result.written = written
    on_commit(session, lambda: wake_after_commit(ctx, written))
    return result
