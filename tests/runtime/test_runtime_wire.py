"""Well-known-type conversions every service maps through."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from google.type import date_pb2
from hypothesis import given
from hypothesis import strategies as st

from crm_runtime.wire import (
    date_message,
    etag,
    money_message,
    money_to_decimal,
    timestamp,
    to_date,
)


@given(st.decimals(min_value=Decimal("-1e12"), max_value=Decimal("1e12"), places=2))
def test_money_round_trips_to_the_fen(amount: Decimal) -> None:
    assert money_to_decimal(money_message(amount)) == amount


def test_unset_values_stay_unset() -> None:
    assert money_message(None).currency_code == ""
    assert not timestamp(None).seconds
    assert to_date(date_message(None)) is None


def test_dates_round_trip_and_impossible_dates_are_none() -> None:
    assert to_date(date_message(date(2026, 2, 28))) == date(2026, 2, 28)
    assert to_date(date_pb2.Date(year=2026, month=2, day=30)) is None


def test_timestamp_keeps_the_instant() -> None:
    moment = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
    assert timestamp(moment).ToDatetime(tzinfo=UTC) == moment


def test_etag_changes_with_the_version_only() -> None:
    assert etag("row", 1) == etag("row", 1) != etag("row", 2)
