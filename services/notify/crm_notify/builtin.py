"""Templates the service ships for the events it reacts to; seeded once, editable afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_notify.domain.localized import TemplateText
from crm_notify.models import TemplateRow
from crm_notify.templates_store import VariableDef, compile_parts


@dataclass(frozen=True)
class BuiltinTemplate:
    """A shipped template."""

    template_id: str
    display_name: str
    category: str
    variables: tuple[VariableDef, ...]
    zh: TemplateText
    en: TemplateText


def _v(name: str, kind: str = "string", *, optional: bool = False) -> VariableDef:
    return VariableDef(name, kind, optional)


BUILTIN_TEMPLATES: tuple[BuiltinTemplate, ...] = (
    BuiltinTemplate(
        "warning-raised",
        "Early warning raised",
        "risk_alert",
        (_v("client_name"), _v("level"), _v("rule"), _v("summary"), _v("sla_due")),
        TemplateText(
            "【{{ level | upper }} 预警】{{ client_name }}",
            "客户 {{ client_name }} 触发预警规则 {{ rule }}：{{ summary }}。"
            "请于 {{ sla_due }} 前确认处理。",
        ),
        TemplateText(
            "[{{ level | upper }} warning] {{ client_name }}",
            "Client {{ client_name }} triggered rule {{ rule }}: {{ summary }}. "
            "Acknowledge by {{ sla_due }}.",
        ),
    ),
    BuiltinTemplate(
        "warning-escalated",
        "Unacknowledged warning escalated",
        "risk_alert",
        (_v("client_name"), _v("level"), _v("owner"), _v("step", "number"), _v("raised")),
        TemplateText(
            "【升级 {{ step }}】{{ client_name }} 的 {{ level | upper }} 预警未确认",
            "{{ owner }} 自 {{ raised }} 起未确认客户 {{ client_name }} 的 {{ level | upper }} "
            "预警，现升级至您处理。",
        ),
        TemplateText(
            "[Escalation {{ step }}] {{ level | upper }} warning on {{ client_name }} "
            "unacknowledged",
            "{{ owner }} has not acknowledged the {{ level | upper }} warning on {{ client_name }} "
            "raised at {{ raised }}; it is escalated to you.",
        ),
    ),
    BuiltinTemplate(
        "rating-changed",
        "Credit rating changed",
        "service",
        (_v("client_name"), _v("grade"), _v("previous_grade", optional=True), _v("pd", "percent")),
        TemplateText(
            "{{ client_name }} 评级调整为 {{ grade }}",
            "客户 {{ client_name }} 的信用评级由 {{ previous_grade | default:'无' }} 调整为 "
            "{{ grade }}（违约概率 {{ pd }}）。",
        ),
        TemplateText(
            "{{ client_name }} rated {{ grade }}",
            "Client {{ client_name }} moved from {{ previous_grade | default:'unrated' }} to "
            "{{ grade }} (PD {{ pd }}).",
        ),
    ),
    BuiltinTemplate(
        "client-assigned",
        "New client assigned",
        "task",
        (_v("client_name"),),
        TemplateText(
            "新客户：{{ client_name }}", "请在三日内联系新客户 {{ client_name }} 完成首次走访。"
        ),
        TemplateText(
            "New client: {{ client_name }}",
            "Contact your new client {{ client_name }} for a first visit within three days.",
        ),
    ),
    BuiltinTemplate(
        "survey-invitation",
        "Satisfaction survey invitation",
        "survey",
        (_v("answer_url"), _v("due_date", "date")),
        TemplateText(
            "邀请您参与满意度调查",
            "感谢您选择我行。请于 {{ due_date }} 前通过以下链接评价我们的服务：{{ answer_url }}",
        ),
        TemplateText(
            "Please tell us how we did",
            "Thank you for banking with us. Please answer by {{ due_date }}: {{ answer_url }}",
        ),
    ),
    BuiltinTemplate(
        "followup-overdue",
        "Post-loan follow-up overdue",
        "task",
        (_v("client_name"), _v("kind"), _v("due_date", "date"), _v("days_overdue", "number")),
        TemplateText(
            "贷后跟进逾期：{{ client_name }}",
            "{{ client_name }} 的 {{ kind }} 应于 {{ due_date }} 完成，"
            "已逾期 {{ days_overdue }} 天。",
        ),
        TemplateText(
            "Follow-up overdue: {{ client_name }}",
            "The {{ kind }} for {{ client_name }} was due {{ due_date }}; "
            "{{ days_overdue }} days overdue.",
        ),
    ),
)


async def seed_builtin_templates(session: AsyncSession, *, now: datetime) -> int:
    """Insert shipped templates that are missing (edited ones are left alone); return count."""
    added = 0
    for spec in BUILTIN_TEMPLATES:
        if await session.get(TemplateRow, spec.template_id) is not None:
            continue
        variants = {"zh-CN": spec.zh, "en": spec.en}
        compile_parts(list(spec.variables), variants, "zh-CN")  # A shipped template must compile.
        session.add(
            TemplateRow(
                template_id=spec.template_id,
                display_name=spec.display_name,
                category=spec.category,
                variables_json=json.dumps([v.__dict__ for v in spec.variables]),
                variants_json=json.dumps(
                    [
                        {"locale": k, "subject": t.subject, "body": t.body}
                        for k, t in variants.items()
                    ],
                    ensure_ascii=False,
                ),
                fallback_locale="zh-CN",
                built_in=True,
                create_time=now,
                update_time=now,
            )
        )
        added += 1
    return added
