"""The one copy of the staff and team name rules every service checks callers' input by."""

from __future__ import annotations

import pytest

from crm_runtime.validation import STAFF_RE, TEAM_RE


@pytest.mark.parametrize("name", ["staff/rm-a", "staff/zhang.wei", "staff/" + "x" * 64])
def test_staff_names_accepted(name):
    assert STAFF_RE.match(name)


@pytest.mark.parametrize(
    "name", ["staff/", "staff/a/b", "teams/t1", "staff/" + "x" * 65, "staff/张伟"]
)
def test_staff_names_refused(name):
    assert not STAFF_RE.match(name)


@pytest.mark.parametrize("name", ["teams/t1", "teams/east.sme"])
def test_team_names_accepted(name):
    assert TEAM_RE.match(name)


@pytest.mark.parametrize("name", ["teams/", "staff/rm-a", "teams/a b"])
def test_team_names_refused(name):
    assert not TEAM_RE.match(name)
