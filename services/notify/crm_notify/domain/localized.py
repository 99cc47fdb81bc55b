"""A template in several locales (zh-CN and en) sharing one set of declared variables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from crm_notify.domain.formatting import SUPPORTED_LOCALES, Locale, normalize_locale
from crm_notify.domain.template_types import RenderedMessage, TemplateError, VariableSpec
from crm_notify.domain.templates import CompiledTemplate, compile_template


@dataclass(frozen=True)
class TemplateText:
    """The raw subject and body of one locale variant."""

    subject: str
    body: str


@dataclass(frozen=True)
class LocalizedTemplate:
    """Compiled variants per locale; a recipient's unsupported locale gets the fallback."""

    variants: Mapping[Locale, CompiledTemplate]
    fallback_locale: Locale

    def resolve_locale(self, locale: str | None) -> Locale:
        """Return the variant locale used for a recipient's preferred locale."""
        if locale is not None:
            try:
                resolved = normalize_locale(locale)
            except ValueError:
                return self.fallback_locale
            if resolved in self.variants:
                return resolved
        return self.fallback_locale

    def render(
        self, values: Mapping[str, object], *, locale: str | None, html: bool = False
    ) -> RenderedMessage:
        """Render the variant for `locale`, formatting values in that variant's locale."""
        chosen = self.resolve_locale(locale)
        return self.variants[chosen].render(values, locale=chosen, html=html)


def compile_localized(
    *,
    variants: Mapping[str, TemplateText],
    declared_variables: Mapping[str, VariableSpec],
    fallback_locale: str = "zh-CN",
) -> LocalizedTemplate:
    """Compile every locale variant; TemplateError fields are prefixed with the locale."""
    compiled: dict[Locale, CompiledTemplate] = {}
    for raw_locale, text in variants.items():
        try:
            locale = normalize_locale(raw_locale)
        except ValueError:
            raise TemplateError(
                "locale", f"unsupported locale {raw_locale!r}; use one of {SUPPORTED_LOCALES}"
            ) from None
        if locale in compiled:
            raise TemplateError("locale", f"locale {locale!r} given twice")
        try:
            compiled[locale] = compile_template(
                subject=text.subject, body=text.body, declared_variables=declared_variables
            )
        except TemplateError as exc:
            raise TemplateError(f"{locale}.{exc.field}", exc.message, exc.position) from None
    try:
        fallback = normalize_locale(fallback_locale)
    except ValueError:
        raise TemplateError("fallback_locale", f"unsupported locale {fallback_locale!r}") from None
    if fallback not in compiled:
        raise TemplateError("fallback_locale", f"no variant for fallback locale {fallback!r}")
    return LocalizedTemplate(variants=compiled, fallback_locale=fallback)
