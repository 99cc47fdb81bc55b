"""Group exposure (pure): members with sub-groups, guarantees for non-members, the limit."""

from __future__ import annotations

from decimal import Decimal

from crm_risk.concentration.model import Limits
from crm_risk.groups.exposure import Guarantee, group_exposures, members_with_descendants

LIMITS = Limits(net_capital=Decimal(1000), single_client=0.10, group=0.15, industry={},
                default_industry=0.35, region={}, default_region=0.40)


def test_a_parent_group_carries_its_sub_groups_members():
    """top ⊃ sub ⊃ leaf: top counts all three levels' members; a loop does not hang."""
    found = members_with_descendants({"top": "", "sub": "top", "leaf": "sub"},
                                     {"top": {"a"}, "sub": {"b"}, "leaf": {"c"}})
    assert found == {"top": {"a", "b", "c"}, "sub": {"b", "c"}, "leaf": {"c"}}
    assert members_with_descendants({"x": "y", "y": "x"}, {"x": {"a"}})["y"] == {"a"}


def test_guarantees_count_only_for_clients_outside_the_group():
    """Members 60 + 40; a guarantees b (inside: not added) and o (outside: added 30)."""
    (group,) = group_exposures(
        {"g": {"a", "b"}}, {"a": Decimal(60), "b": Decimal(40), "o": Decimal(500)},
        [Guarantee("a", "b", Decimal(20)), Guarantee("a", "o", Decimal(30)),
         Guarantee("o", "a", Decimal(70))],
        LIMITS,
    )
    assert (group.member_exposure, group.guaranteed_exposure) == (Decimal(100), Decimal(30))
    assert group.use.headroom == Decimal(20)  # 15 % of 1000 = 150, minus 130
    assert group.use.near_limit and not group.use.breached


def test_a_proposal_over_the_limit_breaches():
    """A proposed 30 for b takes the group to 160 > 150."""
    (group,) = group_exposures({"g": {"a", "b"}}, {"a": Decimal(60), "b": Decimal(70)}, [],
                               LIMITS, extra={"b": Decimal(30)})
    assert group.use.breached and group.use.headroom == Decimal(-10)
