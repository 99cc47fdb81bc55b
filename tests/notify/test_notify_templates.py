"""Tests for the safe template language, its filters and locale variants."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_notify.domain.formatting import mask_mobile, normalize_locale
from crm_notify.domain.localized import TemplateText, compile_localized
from crm_notify.domain.template_types import RenderError, TemplateError, VariableSpec
from crm_notify.domain.templates import MAX_TEMPLATE_LENGTH, compile_template

RATE_VARS = {
    "client_name": VariableSpec("string"),
    "amount": VariableSpec("money"),
    "rate": VariableSpec("percent"),
    "effective": VariableSpec("date"),
    "mobile": VariableSpec("string", required=False),
    "note": VariableSpec("string", required=False),
}


def _compile(body: str, subject: str = "Notice", variables=None):
    return compile_template(
        subject=subject, body=body, declared_variables=variables or RATE_VARS
    )


class TestFilters:
    def test_money_en_and_zh(self):
        """Money renders with ¥ prefix in English and 元 suffix in Chinese, grouped, 2 dp."""
        t = _compile("{{ amount | money }}")
        values = {"client_name": "A", "amount": 1234567, "rate": 0.01, "effective": "2026-11-28"}
        assert t.render(values, locale="en").body == "¥1,234,567.00"
        assert t.render(values, locale="zh-CN").body == "1,234,567.00元"

    def test_money_rounds_half_up_and_keeps_sign(self):
        """Amounts round half-up to cents and negative amounts keep a leading minus."""
        t = _compile("{{ amount | money }}")
        base = {"client_name": "A", "rate": 0.01, "effective": "2026-11-28"}
        assert t.render({**base, "amount": Decimal("2.345")}, locale="en").body == "¥2.35"
        assert t.render({**base, "amount": "-1234.5"}, locale="en").body == "-¥1,234.50"
        assert t.render({**base, "amount": -0.5}, locale="zh-CN").body == "-0.50元"

    def test_percent_from_fraction(self):
        """Percent values are fractions: 0.0345 renders as 3.45%."""
        t = _compile("{{ rate | percent }}")
        values = {"client_name": "A", "amount": 1, "rate": Decimal("0.0345"),
                  "effective": "2026-11-28"}
        assert t.render(values, locale="en").body == "3.45%"

    def test_date_per_locale(self):
        """Dates render as '28 Nov 2026' in English and '2026年11月28日' in Chinese."""
        t = _compile("{{ effective | date }}")
        values = {"client_name": "A", "amount": 1, "rate": 0.01, "effective": "2026-11-28"}
        assert t.render(values, locale="en").body == "28 Nov 2026"
        assert t.render(values, locale="zh-CN").body == "2026年11月28日"

    def test_date_accepts_date_datetime_and_iso_datetime(self):
        """date, datetime and ISO datetime text all render as their calendar date."""
        t = _compile("{{ effective | date }}")
        base = {"client_name": "A", "amount": 1, "rate": 0.01}
        for value in (date(2026, 1, 5), datetime(2026, 1, 5, 23, 0), "2026-01-05T23:00:00+08:00"):
            assert t.render({**base, "effective": value}, locale="en").body == "5 Jan 2026"

    def test_upper_and_mask_mobile(self):
        """upper upper-cases text and mask_mobile keeps first 3 and last 4 digits."""
        t = _compile("{{ client_name | upper }} {{ mobile | mask_mobile }}")
        values = {"client_name": "acme", "amount": 1, "rate": 0.01,
                  "effective": "2026-11-28", "mobile": "13812345678"}
        assert t.render(values, locale="en").body == "ACME 138****5678"

    def test_default_applies_only_to_missing_values(self):
        """default substitutes its argument for a missing or empty optional value."""
        t = _compile("[{{ note | default:'n/a' }}]")
        base = {"client_name": "A", "amount": 1, "rate": 0.01, "effective": "2026-11-28"}
        assert t.render(base, locale="en").body == "[n/a]"
        assert t.render({**base, "note": ""}, locale="en").body == "[n/a]"
        assert t.render({**base, "note": "hi"}, locale="en").body == "[hi]"

    def test_missing_optional_without_default_renders_empty(self):
        """An absent optional variable renders as nothing, through any filter chain."""
        t = _compile("<{{ mobile | mask_mobile | upper }}>")
        base = {"client_name": "A", "amount": 1, "rate": 0.01, "effective": "2026-11-28"}
        assert t.render(base, locale="en").body == "<>"

    def test_bare_placeholder_uses_type_formatting(self):
        """Without filters a value is formatted by its declared type."""
        t = _compile("{{ amount }} {{ rate }} {{ effective }}")
        values = {"client_name": "A", "amount": 5, "rate": 0.5, "effective": "2026-03-01"}
        assert t.render(values, locale="en").body == "¥5.00 50.00% 1 Mar 2026"
        assert t.render(values, locale="zh-CN").body == "5.00元 50.00% 2026年3月1日"

    @pytest.mark.parametrize(
        ("raw", "masked"),
        [("13812345678", "138****5678"), ("138 1234 5678", "138****5678"),
         ("+8613812345678", "+86138****5678"), ("12345", "***45"), ("7", "*")],
    )
    def test_mask_mobile_shapes(self, raw, masked):
        """Separators are dropped, +86 is kept, short numbers show only their last 2 digits."""
        assert mask_mobile(raw) == masked


class TestSyntax:
    def test_escaped_braces_are_literal(self):
        r"""\{{ and \}} produce literal braces and no placeholder."""
        t = _compile(r"use \{{ name \}} for {{ client_name }}")
        values = {"client_name": "A", "amount": 1, "rate": 0.01, "effective": "2026-11-28"}
        assert t.render(values, locale="en").body == "use {{ name }} for A"
        assert t.variables_used == {"client_name"}

    def test_single_braces_are_plain_text(self):
        """Lone { and } are ordinary characters."""
        t = _compile('{"a": 1} {{ client_name }}')
        values = {"client_name": "A", "amount": 1, "rate": 0.01, "effective": "2026-11-28"}
        assert t.render(values, locale="en").body == '{"a": 1} A'

    @pytest.mark.parametrize(
        ("body", "message"),
        [
            ("Hi {{ x }}", "unknown template variable 'x'"),
            ("{{ client_name | shout }}", "unknown filter 'shout'"),
            ("Hi {{ client_name", "unclosed '{{'"),
            ("Hi client_name }}", "unmatched '}}'"),
            ("{{ client_name.__class__ }}", "malformed placeholder"),
            ("{{ client_name[0] }}", "malformed placeholder"),
            ("{{ }}", "malformed placeholder"),
            ("{{ client_name | upper:'x' }}", "filter 'upper' takes no argument"),
            ("{{ note | default }}", "filter 'default' needs a quoted argument"),
            ("{{ client_name | money }}", "does not apply to string variable 'client_name'"),
            ("{{ amount | date }}", "does not apply to money variable 'amount'"),
        ],
    )
    def test_compile_errors(self, body, message):
        """Unknown names, unknown or misapplied filters and bad braces fail at compile time."""
        with pytest.raises(TemplateError) as info:
            _compile(body)
        assert info.value.field == "body"
        assert message in info.value.message

    def test_error_reports_field_and_position(self):
        """A subject error names the subject and the offset of the placeholder."""
        with pytest.raises(TemplateError) as info:
            _compile("ok", subject="Rate {{ nope }}")
        assert (info.value.field, info.value.position) == ("subject", 5)

    def test_multiline_subject_rejected(self):
        """A subject template with a line break is rejected (header injection)."""
        with pytest.raises(TemplateError, match="single line"):
            _compile("ok", subject="a\nBcc: x@example.com")

    def test_length_limit(self):
        """Texts longer than MAX_TEMPLATE_LENGTH are rejected; exactly the limit is fine."""
        _compile("x" * MAX_TEMPLATE_LENGTH)
        with pytest.raises(TemplateError, match="longer than"):
            _compile("x" * (MAX_TEMPLATE_LENGTH + 1))

    def test_unused_required_variable_is_a_warning(self):
        """A required variable never referenced compiles with a warning, not an error."""
        t = _compile("{{ client_name }}")
        assert "required variable 'amount' is never used" in t.warnings
        assert not any("'mobile'" in w for w in t.warnings)

    def test_invalid_declared_name(self):
        """Declared names must be plain identifiers."""
        with pytest.raises(TemplateError) as info:
            compile_template(subject="", body="",
                             declared_variables={"a.b": VariableSpec("string")})
        assert info.value.field == "variables"

    def test_unknown_variable_type(self):
        """VariableSpec rejects types outside the supported set."""
        with pytest.raises(ValueError, match="unknown variable type"):
            VariableSpec("bytes")  # type: ignore[arg-type]


class TestRender:
    def test_missing_required_value(self):
        """A missing required value raises RenderError naming the variable."""
        t = _compile("{{ client_name }}")
        with pytest.raises(RenderError) as info:
            t.render({"amount": 1, "rate": 0.1, "effective": "2026-01-01"}, locale="en")
        assert info.value.variable == "client_name"

    @pytest.mark.parametrize(
        ("name", "value"),
        [("amount", "lots"), ("amount", True), ("amount", float("nan")), ("amount", "1e5"),
         ("amount", "9" * 40), ("effective", "28/11/2026"), ("client_name", 42),
         ("rate", None)],
    )
    def test_wrong_type_values(self, name, value):
        """Values of the wrong type (or null for a required one) raise RenderError."""
        t = _compile("{{ client_name }}")
        values = {"client_name": "A", "amount": 1, "rate": 0.1, "effective": "2026-01-01"}
        with pytest.raises(RenderError) as info:
            t.render({**values, name: value}, locale="en")
        assert info.value.variable == name

    def test_unsupported_locale(self):
        """An unsupported locale is a RenderError on 'locale'."""
        t = _compile("x")
        values = {"client_name": "A", "amount": 1, "rate": 0.1, "effective": "2026-01-01"}
        with pytest.raises(RenderError) as info:
            t.render(values, locale="fr")
        assert info.value.variable == "locale"

    def test_html_escapes_values_not_template(self):
        """With html=True substituted values are escaped but the template's own markup is not."""
        t = _compile("<p>{{ client_name }}</p>", subject="For {{ client_name }}")
        values = {"client_name": "<script>x</script>&", "amount": 1, "rate": 0.1,
                  "effective": "2026-01-01"}
        rendered = t.render(values, locale="en", html=True)
        assert rendered.body == "<p>&lt;script&gt;x&lt;/script&gt;&amp;</p>"
        assert rendered.subject == "For <script>x</script>&"
        assert t.render(values, locale="en").body == "<p><script>x</script>&</p>"

    def test_values_cannot_inject_template_syntax(self):
        """A value containing {{ ... }} is output as text, never evaluated."""
        t = _compile("{{ client_name }}")
        values = {"client_name": "{{ amount }}", "amount": 1, "rate": 0.1,
                  "effective": "2026-01-01"}
        assert t.render(values, locale="en").body == "{{ amount }}"

    def test_subject_values_are_single_line(self):
        """Line breaks inside a value are flattened in the subject only."""
        t = _compile("{{ client_name }}", subject="Re {{ client_name }}")
        values = {"client_name": "A\r\nBcc: evil@example.com", "amount": 1, "rate": 0.1,
                  "effective": "2026-01-01"}
        rendered = t.render(values, locale="en")
        assert "\n" not in rendered.subject and "\r" not in rendered.subject
        assert rendered.body == "A\r\nBcc: evil@example.com"

    @settings(max_examples=200, deadline=None)
    @given(st.text(max_size=200))
    def test_any_text_compiles_or_raises_template_error(self, text):
        """Arbitrary text either compiles or raises TemplateError; nothing else escapes."""
        try:
            t = _compile(text)
        except TemplateError:
            return
        values = {"client_name": "A", "amount": 1, "rate": 0.1, "effective": "2026-01-01"}
        assert isinstance(t.render(values, locale="en").body, str)

    @settings(max_examples=200, deadline=None)
    @given(st.text(alphabet=st.characters(blacklist_characters="{}\\"), max_size=200))
    def test_plain_text_round_trips(self, text):
        """Text without braces or backslashes renders exactly as written."""
        values = {"client_name": "A", "amount": 1, "rate": 0.1, "effective": "2026-01-01"}
        assert _compile(text).render(values, locale="zh-CN").body == text


class TestLocalized:
    def _template(self):
        return compile_localized(
            variants={
                "zh-CN": TemplateText(
                    "利率调整通知", "{{ client_name }}：自{{ effective }}起利率调整为{{ rate }}。"
                ),
                "en": TemplateText(
                    "Rate change", "{{ client_name }}: from {{ effective }} the rate is {{ rate }}."
                ),
            },
            declared_variables={"client_name": VariableSpec("string"),
                                "effective": VariableSpec("date"), "rate": VariableSpec("percent")},
        )

    def test_renders_requested_locale(self):
        """Each locale gets its own text and its own formatting."""
        values = {"client_name": "华东建设", "effective": "2026-11-28", "rate": Decimal("0.0365")}
        t = self._template()
        en = t.render(values, locale="en-GB")
        assert en.body == "华东建设: from 28 Nov 2026 the rate is 3.65%."
        zh = t.render(values, locale="zh-CN")
        assert zh.subject == "利率调整通知"
        assert zh.body == "华东建设：自2026年11月28日起利率调整为3.65%。"

    def test_unsupported_locale_falls_back(self):
        """A recipient locale we do not support gets the fallback variant."""
        values = {"client_name": "X", "effective": "2026-11-28", "rate": 0.03}
        t = self._template()
        assert t.resolve_locale("fr-FR") == "zh-CN"
        assert t.resolve_locale(None) == "zh-CN"
        assert t.render(values, locale="fr").subject == "利率调整通知"

    def test_error_field_is_prefixed_with_locale(self):
        """A compile error in one variant names that variant."""
        with pytest.raises(TemplateError) as info:
            compile_localized(
                variants={"zh-CN": TemplateText("ok", "ok"), "en": TemplateText("ok", "{{ x }}")},
                declared_variables={},
            )
        assert info.value.field == "en.body"

    def test_fallback_must_exist(self):
        """The fallback locale needs a variant."""
        with pytest.raises(TemplateError, match="fallback"):
            compile_localized(variants={"en": TemplateText("a", "b")}, declared_variables={})

    @pytest.mark.parametrize(("tag", "expected"), [("zh", "zh-CN"), ("zh_CN", "zh-CN"),
                             ("zh-Hans-CN", "zh-CN"), ("EN", "en"), ("en-US", "en")])
    def test_normalize_locale(self, tag, expected):
        """Common spellings of the supported locales are accepted."""
        assert normalize_locale(tag) == expected
