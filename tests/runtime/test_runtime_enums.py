"""Stored enum names follow the proto: prefix dropped, lower case, zero value left out."""

from __future__ import annotations

import pytest

from crm.client.v1 import client_pb2
from crm_runtime.enums import stored_names


def test_names_drop_the_prefix_and_read_both_ways():
    names = stored_names(client_pb2.IncomeBand)
    assert names.by_number == {
        client_pb2.INCOME_BAND_BELOW_500K: "below_500k",
        client_pb2.INCOME_BAND_500K_2M: "500k_2m",
        client_pb2.INCOME_BAND_ABOVE_2M: "above_2m",
    }
    assert names.by_name["500k_2m"] == client_pb2.INCOME_BAND_500K_2M


def test_zero_value_is_not_a_stored_name():
    by_number, by_name = stored_names(client_pb2.OwnershipType)
    assert client_pb2.OWNERSHIP_TYPE_UNSPECIFIED not in by_number
    assert by_number[client_pb2.OWNERSHIP_TYPE_STATE_OWNED] == "state_owned"
    assert "unspecified" not in by_name


def test_an_enum_without_the_zero_suffix_is_refused():
    class Odd:
        @staticmethod
        def items() -> list[tuple[str, int]]:
            return [("NONE", 0), ("ONE", 1)]

    with pytest.raises(ValueError, match="UNSPECIFIED"):
        stored_names(Odd())
