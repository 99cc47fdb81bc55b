"""Personal-data masking for logs and responses: IDs and mobiles masked, other numbers kept."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm.client.v1 import client_pb2
from crm_runtime.pii import (
    mask_id_number,
    mask_mobile,
    mask_name,
    scrub_text,
    scrub_value,
)

ID_NUMBER = "110105199003071239"
ID_WITH_X = "44030519920615789X"
MOBILE = "13812345678"


class TestMaskers:
    def test_id_number(self):
        """First 6 and last 4 characters stay (bank convention)."""
        assert mask_id_number(ID_NUMBER) == "110105********1239"
        assert mask_id_number(ID_WITH_X) == "440305********789X"
        assert mask_id_number("12345") == "*****"

    def test_mobile(self):
        """First 3 and last 4 digits stay."""
        assert mask_mobile(MOBILE) == "138****5678"
        assert mask_mobile("1234") == "****"

    def test_name(self):
        """Only the family name (first character) stays."""
        assert mask_name("王建国") == "王**"
        assert mask_name("李") == "李*"
        assert mask_name("") == ""


class TestScrubText:
    @pytest.mark.parametrize(("text", "expected"), [
        (f"身份证号{ID_NUMBER}已核验", "身份证号110105********1239已核验"),
        (f"id={ID_WITH_X};", "id=440305********789X;"),
        (f"id {ID_WITH_X.lower()}", "id 440305********789x"),
        (f"联系电话{MOBILE}。", "联系电话138****5678。"),
        (f'{{"m":"{MOBILE}"}}', '{"m":"138****5678"}'),
        (f"tel:{MOBILE}, alt 15900001111", "tel:138****5678, alt 159****1111"),
        (f"{ID_NUMBER} and {MOBILE}", "110105********1239 and 138****5678"),
    ])
    def test_masks_ids_and_mobiles_in_free_text(self, text, expected):
        """IDs and mobiles anywhere in text are masked in place."""
        assert scrub_text(text) == expected

    @pytest.mark.parametrize("text", [
        "amount 12345678.90 CNY", "due 20261128", "on 2026-11-28T10:00:00Z",
        "credit code 91110108MA01B2C344", "limit 1500000000 fen", "ts 1764300000123",
        "ref 138123456789", "industry C3411 region 110108", "rate 0.0435",
        "page_size=500", "12012345678",
    ])
    def test_leaves_other_numbers_alone(self, text):
        """Amounts, dates, credit codes, long references and non-mobile numbers are unchanged."""
        assert scrub_text(text) == text

    @pytest.mark.parametrize(("text", "expected"), [
        (f"+86{MOBILE}", "+86138****5678"),
        (f"+86 {MOBILE}", "+86 138****5678"),
        (f"0086{MOBILE}", "0086138****5678"),
        (f"86{MOBILE}", "86138****5678"),
    ])
    def test_mobile_with_country_code(self, text, expected):
        """A mobile written with the +86 country code is masked too."""
        assert scrub_text(text) == expected

    @settings(max_examples=200, deadline=None)
    @given(prefix=st.text(max_size=20), suffix=st.text(max_size=20),
           middle=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    def test_no_standalone_mobile_survives(self, prefix, suffix, middle):
        """A mobile not glued to other digits never appears in scrubbed text."""
        if prefix[-1:].isdigit() or suffix[:1].isdigit():
            return
        assert middle not in scrub_text(prefix + middle + suffix)


class TestScrubValue:
    @pytest.mark.parametrize("key", ["password", "Password", "TOKEN", "authorization",
                                     "x-crm-identity", "api_key", "database_url",
                                     "pii_encryption_key", "id_number", "mobile_number",
                                     "income_band"])
    def test_secret_keys_redacted(self, key):
        """Values under secret or personal keys are never logged, whatever they are."""
        assert scrub_value(key, "hunter2-and-more") == "[redacted]"
        assert scrub_value(key, 12345) == "[redacted]"
        assert scrub_value(key, {"a": 1}) == "[redacted]"

    def test_nested_structures(self):
        """Dicts and lists are scrubbed all the way down, secret keys included."""
        value = {"person": {"mobile": MOBILE, "note": f"id {ID_NUMBER}"},
                 "headers": [{"authorization": "Bearer abc"}], "count": 3,
                 "tags": (f"call {MOBILE}", "vip")}
        assert scrub_value("payload", value) == {
            "person": {"mobile": "[redacted]", "note": "id 110105********1239"},
            "headers": [{"authorization": "[redacted]"}], "count": 3,
            "tags": ["call 138****5678", "vip"]}

    def test_plain_values_unchanged(self):
        """Ordinary values pass as they are."""
        assert scrub_value("client", "clients/abc") == "clients/abc"
        assert scrub_value("count", 42) == 42
        assert scrub_value("ok", True) is True
        assert scrub_value("ratio", 0.5) == 0.5
        assert scrub_value("nothing", None) is None

    def test_mobile_as_integer(self):
        """A mobile number logged as an integer is masked too."""
        assert scrub_value("contact", int(MOBILE)) == "138****5678"
        assert scrub_value("amount", 12345678) == 12345678

    def test_objects_rendered_as_text_are_scrubbed(self):
        """Objects (a protobuf message, a set) are rendered to text and that text is masked."""
        person = client_pb2.KeyPerson(display_name="x", id_number=ID_NUMBER, mobile_number=MOBILE)
        scrubbed = scrub_value("key_person", person)
        assert isinstance(scrubbed, str)
        assert ID_NUMBER not in scrubbed
        assert MOBILE not in scrubbed
        assert MOBILE not in str(scrub_value("contacts", {MOBILE}))
