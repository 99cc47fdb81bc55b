"""Deterministic synthetic data with planted truth: approval events and survey answers.

Same parameters and seed → same data, so tests and demos can assert on what was
planted: a slow stage in one branch (waits and processing multiplied by a factor),
duplicated and shuffled delivery of the approval events, and survey answers whose
promoter / passive / detractor counts (hence NPS) are fixed in advance.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from crm_feedback.domain.approval_timelines import STAGES, Stage, StageEvent
from crm_feedback.domain.metrics import AnswerRow

DEFAULT_BRANCHES: Final = ("shanghai", "shenzhen", "chengdu", "wuhan")
DEFAULT_PRODUCTS: Final = ("working_capital", "fixed_asset", "project_finance")
DEFAULT_START: Final = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
# Median hours (wait before the stage, processing in it); noise is log-normal around them.
BASE_HOURS: Final[dict[str, tuple[float, float]]] = {
    "application_received": (0.0, 4.0),
    "due_diligence": (8.0, 48.0),
    "credit_review": (8.0, 36.0),
    "committee": (24.0, 24.0),
    "approval": (4.0, 12.0),
    "contract": (8.0, 24.0),
    "disbursement": (4.0, 8.0),
}
_NOISE_SIGMA: Final = 0.35
# A rework loop sends the case from committee back to due diligence.
_REWORK_PATH: Final[tuple[Stage, ...]] = (
    "application_received", "due_diligence", "credit_review", "committee",
    "due_diligence", "credit_review", "committee", "approval", "contract", "disbursement",
)


@dataclass(frozen=True, slots=True)
class PlantedSlowStage:
    """The truth planted in the approval data."""

    branch: str
    stage: Stage
    factor: float


@dataclass(frozen=True, slots=True)
class SyntheticApprovals:
    """Events as delivered (duplicated, shuffled) and the same events clean and ordered."""

    delivered: tuple[StageEvent, ...]
    clean: tuple[StageEvent, ...]
    planted: PlantedSlowStage
    n_cases: int


def generate_approval_events(
    *,
    n_cases: int = 400,
    branches: Sequence[str] = DEFAULT_BRANCHES,
    products: Sequence[str] = DEFAULT_PRODUCTS,
    slow_branch: str = "chengdu",
    slow_stage: Stage = "credit_review",
    slowdown: float = 3.0,
    seed: int = 7,
    start: datetime = DEFAULT_START,
    duplicate_share: float = 0.15,
    rework_share: float = 0.08,
    open_share: float = 0.05,
) -> SyntheticApprovals:
    """Return approval events of ``n_cases`` cases with one planted slow stage."""
    if slow_branch not in branches or slow_stage not in STAGES or slowdown <= 0:
        msg = "slow_branch must be a branch, slow_stage a stage, slowdown > 0"
        raise ValueError(msg)
    rng = random.Random(seed)
    clean: list[StageEvent] = []
    for number in range(n_cases):
        case_id = f"case-{number:05d}"
        branch = branches[number % len(branches)]
        product = rng.choice(products)
        path = _REWORK_PATH if rng.random() < rework_share else STAGES
        # An open case stops after entering one of its stages (still in progress).
        stop_at = rng.randrange(1, len(path)) if rng.random() < open_share else len(path)
        clock = start + timedelta(hours=rng.uniform(0, 24 * 90))
        for step, stage in enumerate(path[: stop_at + 1]):
            wait_h, proc_h = BASE_HOURS[stage]
            factor = slowdown if (branch, stage) == (slow_branch, slow_stage) else 1.0
            clock += timedelta(hours=wait_h * factor * rng.lognormvariate(0, _NOISE_SIGMA))
            actor = f"{branch}-officer-{rng.randrange(1, 6)}"
            clean.append(
                StageEvent(f"{case_id}-{step:02d}-in", case_id, branch, product, stage,
                           "entered", clock, actor)
            )
            if step == stop_at:
                break
            clock += timedelta(hours=proc_h * factor * rng.lognormvariate(0, _NOISE_SIGMA))
            clean.append(
                StageEvent(f"{case_id}-{step:02d}-out", case_id, branch, product, stage,
                           "completed", clock, actor)
            )
    clean.sort(key=lambda event: (event.at, event.event_id))
    delivered = list(clean)
    delivered.extend(event for event in clean if rng.random() < duplicate_share)
    rng.shuffle(delivered)
    return SyntheticApprovals(
        tuple(delivered), tuple(clean), PlantedSlowStage(slow_branch, slow_stage, slowdown),
        n_cases,
    )


COMMENT_TEMPLATES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("审批太慢，等了很久才放款", ("approval_speed",)),
    ("利率偏高，手续费也不少", ("pricing",)),
    ("客户经理态度很好，响应及时", ("rm_service",)),
    ("手机银行经常登录失败", ("digital_channels",)),
    ("需要提交的材料太多了", ("documentation",)),
    ("项目工期紧张，担心延期", ("project_progress",)),
    ("最近资金紧张，还款压力大", ("payment_difficulty",)),
    ("The approval process took too long.", ("approval_speed",)),
    ("Fees are high compared with other banks.", ("pricing",)),
    ("Our relationship manager is very responsive.", ("rm_service",)),
    ("The mobile banking app keeps crashing.", ("digital_channels",)),
    ("Too much paperwork for a renewal.", ("documentation",)),
    ("Construction is behind schedule after the rain.", ("project_progress",)),
    ("Cash flow is tight this quarter.", ("payment_difficulty",)),
)


@dataclass(frozen=True, slots=True)
class SyntheticSurvey:
    """Answer rows with known category counts, and comments with known themes."""

    rows: tuple[AnswerRow, ...]
    promoters: int
    passives: int
    detractors: int
    comments: tuple[tuple[str, tuple[str, ...]], ...]

    @property
    def expected_nps(self) -> float | None:
        """Return the NPS the planted counts imply (None if nobody answered)."""
        answered = self.promoters + self.passives + self.detractors
        return 100 * (self.promoters - self.detractors) / answered if answered else None


def generate_survey_answers(
    *,
    promoters: int = 120,
    passives: int = 50,
    detractors: int = 30,
    unanswered: int = 60,
    seed: int = 11,
    rm_ids: Sequence[str] = ("rm-01", "rm-02", "rm-03", "rm-04"),
    segment_ids: Sequence[str] = ("high_growth", "manufacturing", "watch_list"),
    products: Sequence[str] = DEFAULT_PRODUCTS,
    period: str = "2026-Q3",
) -> SyntheticSurvey:
    """Return shuffled answer rows whose NPS category counts are exactly as given."""
    rng = random.Random(seed)
    # (NPS scores, CSAT scores) per category; CSAT follows NPS loosely, as in real data.
    plan = (
        [((9, 10), (4, 5))] * promoters
        + [((7, 8), (3, 4))] * passives
        + [(tuple(range(7)), (1, 2, 3))] * detractors
        + [((), ())] * unanswered
    )
    rows: list[AnswerRow] = []
    comments: list[tuple[str, tuple[str, ...]]] = []
    for index, (nps_choices, csat_choices) in enumerate(plan):
        rm_id = rm_ids[index % len(rm_ids)]
        segments = tuple(sorted(rng.sample(list(segment_ids), rng.randint(1, 2))))
        answered = bool(nps_choices)
        rows.append(
            AnswerRow(
                rm_id=rm_id,
                team_id=f"team-{(index % len(rm_ids)) // 2 + 1}",
                segment_ids=segments,
                product=rng.choice(products),
                period=period,
                nps_score=rng.choice(nps_choices) if answered else None,
                csat_score=rng.choice(csat_choices) if answered else None,
                dispatched=True,
                answered=answered,
            )
        )
        if answered and rng.random() < 0.3:
            comments.append(rng.choice(COMMENT_TEMPLATES))
    rng.shuffle(rows)
    return SyntheticSurvey(tuple(rows), promoters, passives, detractors, tuple(comments))
