"""Pages of lists computed in memory: every item once, tokens bound to their query."""

from __future__ import annotations

import pytest

from crm_runtime.errors import InvalidArgument
from crm_runtime.pagination import PageTokens, offset_page


def test_pages_cover_every_item_once_in_order():
    tokens = PageTokens()
    items = list(range(7))
    seen: list[int] = []
    token = ""
    while True:
        page = offset_page(items, tokens=tokens, page_token=token, size=3, query={"q": 1})
        seen.extend(page.rows)
        token = page.next_page_token
        if not token:
            break
    assert seen == items


def test_exact_fit_has_no_next_page():
    page = offset_page([1, 2], tokens=PageTokens(), page_token="", size=2, query={})
    assert page.rows == [1, 2]
    assert page.next_page_token == ""


def test_token_of_another_query_is_refused():
    tokens = PageTokens()
    first = offset_page(list(range(5)), tokens=tokens, page_token="", size=2, query={"a": 1})
    with pytest.raises(InvalidArgument):
        offset_page(
            list(range(5)), tokens=tokens, page_token=first.next_page_token, size=2,
            query={"a": 2},
        )
