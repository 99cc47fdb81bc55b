"""CreateCampaign's checks: the audience is well formed and every value renders.

A campaign is checked whole before it is stored, so a bad recipient or a value that does not
render is an INVALID_ARGUMENT at creation instead of a silent gap in the fan-out.
"""

from __future__ import annotations

from crm.notify.v1 import campaign_pb2
from crm_notify.domain.template_types import RenderError
from crm_notify.names import Violations, check_recipient, is_segment
from crm_notify.templates_store import LoadedTemplate

MAX_LIST_RECIPIENTS = 100_000
SAMPLE_CLIENT_NAME = "示例客户有限公司"


def check_render(
    v: Violations, template: LoadedTemplate, values: dict[str, str], field: str
) -> None:
    """Record a violation when `values` do not render in every locale variant."""
    for locale in template.compiled.variants:
        try:
            template.compiled.render(values, locale=locale)
        except RenderError as exc:
            v.add(f"{field}.{exc.variable}", exc.message)
            return


def check_audience(
    v: Violations,
    c: campaign_pb2.Campaign,
    audience: str | None,
    recipients: list[campaign_pb2.CampaignRecipient],
) -> None:
    """Record problems with the campaign's audience (at most ~20 for a huge list)."""
    if audience is None:
        v.add("campaign.audience", "name a segment, a recipient list or a topic")
    if audience == "segment" and not is_segment(c.segment):
        v.add("campaign.segment", "must be segments/{segment}")
    if audience != "recipient_list":
        return
    if not 1 <= len(recipients) <= MAX_LIST_RECIPIENTS:
        v.add("campaign.recipient_list.recipients", f"needs 1 to {MAX_LIST_RECIPIENTS}")
    seen: set[str] = set()
    for i, r in enumerate(recipients):
        field = f"campaign.recipient_list.recipients[{i}].recipient"
        check_recipient(v, field, r.recipient)
        if r.recipient in seen:
            v.add(field, "appears twice")
        seen.add(r.recipient)
        if len(v.items) > 20:
            return


def check_values(
    v: Violations,
    template: LoadedTemplate,
    shared: dict[str, str],
    audience: str | None,
    recipients: list[campaign_pb2.CampaignRecipient],
) -> None:
    """Record values that would not render: per listed recipient, or with a sample client."""
    if audience != "recipient_list":
        check_render(
            v, template, {"client_name": SAMPLE_CLIENT_NAME, **shared}, "campaign.variables"
        )
        return
    checked_shared = False
    for i, r in enumerate(recipients):
        # Recipients without personal values all render alike: check them once.
        if r.variables or not checked_shared:
            field = f"campaign.recipient_list.recipients[{i}].variables"
            check_render(v, template, {**shared, **r.variables}, field)
            checked_shared = checked_shared or not r.variables
        if v.items:
            return
