"""Labels in English and Chinese; the language comes from the `lang` cookie or the browser."""

from __future__ import annotations

from starlette.requests import Request

LANGUAGES = ("en", "zh")

# key: (English, 中文)
LABELS: dict[str, tuple[str, str]] = {
    "title": ("CRM workbench", "对公客户工作台"),
    "login": ("Sign in", "登录"),
    "logout": ("Sign out", "退出"),
    "staff_id": ("Staff id", "员工号"),
    "my_clients": ("My clients", "我的客户"),
    "my_work": ("Warnings and tasks", "预警与任务"),
    "visits": ("Follow-up visits", "贷后走访"),
    "warning_queue": ("Warning queue", "预警队列"),
    "overrides": ("Rating overrides", "评级推翻"),
    "concentration": ("Concentration", "集中度"),
    "rules": ("Monitoring rules", "监测规则"),
    "kpi": ("RM scorecards", "客户经理考核"),
    "satisfaction": ("NPS / CSAT", "满意度"),
    "bottlenecks": ("Approval bottlenecks", "审批瓶颈"),
    "campaigns": ("Campaigns", "营销活动"),
    "search": ("Search", "搜索"),
    "segment": ("Segment", "客群"),
    "all": ("All", "全部"),
    "client": ("Client", "客户"),
    "credit_code": ("Credit code", "统一社会信用代码"),
    "industry": ("Industry", "行业"),
    "region": ("Region", "地区"),
    "size": ("Size", "规模"),
    "team": ("Team", "团队"),
    "rm": ("Relationship manager", "客户经理"),
    "profile": ("Profile", "基本信息"),
    "key_persons": ("Key persons", "关键人"),
    "id_number": ("ID number", "身份证号"),
    "mobile": ("Mobile", "手机"),
    "segments": ("Segments", "客群"),
    "segment_history": ("Segment history", "客群变动"),
    "rating": ("Rating", "评级"),
    "rating_history": ("Rating history", "评级历史"),
    "reason_codes": ("Reason codes", "原因代码"),
    "facilities": ("Facilities and five-category", "授信与五级分类"),
    "warnings": ("Warnings", "预警"),
    "notifications": ("Notifications sent", "已发通知"),
    "surveys_visits": ("Surveys and visits", "问卷与走访"),
    "actions": ("Next-best actions", "下一步最佳行动"),
    "level": ("Level", "级别"),
    "state": ("State", "状态"),
    "sla": ("SLA due", "处理时限"),
    "summary": ("Summary", "摘要"),
    "acknowledge": ("Acknowledge", "确认"),
    "resolve": ("Resolve", "解除"),
    "reason": ("Reason", "原因"),
    "unmask": ("Unmask", "查看完整信息"),
    "grade": ("Grade", "等级"),
    "propose_override": ("Propose an override", "提议推翻评级"),
    "approve": ("Approve", "批准"),
    "reject": ("Reject", "驳回"),
    "tasks": ("Tasks", "任务"),
    "complete": ("Complete", "完成"),
    "refused": ("Not allowed", "无权访问"),
    "refused_text": ("The platform refused this request.", "平台拒绝了此请求。"),
    "refused_CLIENT_ACCESS_DENIED": (
        "You can only open clients assigned to you or your team.",
        "您只能查看分配给您或您团队的客户。",
    ),
    "refused_SAME_PERSON_APPROVAL": (
        "Four eyes: someone other than the proposer must decide.",
        "四眼原则：提议人不能自行审批。",
    ),
    "refused_CSRF_TOKEN_MISMATCH": (
        "The form is out of date; reload the page and try again.",
        "表单已过期，请刷新页面后重试。",
    ),
    "none": ("None", "无"),
    "amount": ("Amount", "金额"),
    "what_if": ("What-if: a proposed facility", "假设分析：拟新增授信"),
    "evaluate": ("Evaluate", "评估"),
    "backtest": ("Back-test", "回测"),
    "activate": ("Activate", "启用"),
    "period": ("Period", "期间"),
    "create": ("Create", "创建"),
    "record_visit": ("Record a visit", "记录走访"),
    "session_expired": ("Your session has ended; sign in again.", "会话已过期，请重新登录。"),
    "open": ("Open", "打开"),
}


def language_of(request: Request) -> str:
    """Return "zh" or "en": the `lang` cookie first, then the browser's Accept-Language."""
    chosen = request.query_params.get("lang") or request.cookies.get("lang", "")
    if chosen in LANGUAGES:
        return chosen
    accepted = request.headers.get("accept-language", "").lower()
    return "zh" if accepted.startswith("zh") else "en"


def translator(language: str) -> object:
    """Return the template's `t(key)` function for `language`."""
    index = LANGUAGES.index(language) if language in LANGUAGES else 0

    def label(key: str, default: str = "") -> str:
        pair = LABELS.get(key)
        return pair[index] if pair else (default or key)

    return label
