"""Method-level authorisation from a configuration table (access_rules.toml).

The first rule whose pattern matches the full method decides; decisions are cached per method,
so the table is read once per method, not once per call. The cache has a maximum size: method
names come from callers, before authentication, so an unbounded cache was a memory leak any
anonymous caller could drive (20,000 made-up names: +100 MB).
"""

from __future__ import annotations

import fnmatch
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from google.rpc import code_pb2

from crm_runtime.auth import Principal, Role
from crm_runtime.errors import DomainError, PermissionDenied

DEFAULT_RULES_FILE = Path(__file__).resolve().parent / "access_rules.toml"
ANY_ROLE = "*"


class Unimplemented(DomainError):
    """The method does not exist for external callers."""

    code, reason = code_pb2.UNIMPLEMENTED, "METHOD_NOT_EXPOSED"


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may call the methods a pattern matches."""

    pattern: str
    roles: frozenset[Role] | None  # None: any authenticated caller.
    expose: bool = True

    def allows(self, principal: Principal) -> bool:
        """Return True if the caller holds a role this rule accepts (any role for "*")."""
        if self.roles is None:
            return bool(principal.roles)
        return not self.roles.isdisjoint(principal.roles)


_DENY_ALL = Rule(pattern="", roles=frozenset(), expose=True)


def parse_rules(document: Mapping[str, Any]) -> list[Rule]:
    """Return the rules of a parsed table, validating roles and patterns."""
    rules = []
    for raw in document.get("rule", []):
        pattern = str(raw["methods"])
        if not pattern.startswith("/"):
            raise ValueError(f"rule pattern {pattern!r} must start with '/'")
        names = [str(r) for r in raw.get("roles", [])]
        roles = None if ANY_ROLE in names else frozenset(Role(r) for r in names)
        rules.append(Rule(pattern, roles, bool(raw.get("expose", True))))
    return rules


class AccessRules:
    """Decides per method whether it is exposed and which roles may call it."""

    # Far above the number of real methods (a few hundred), so real ones stay cached.
    MAX_CACHED_DECISIONS = 4_096

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._rules = tuple(rules)
        self._decisions: dict[str, Rule] = {}

    @classmethod
    def from_file(cls, path: Path | None = None) -> AccessRules:
        """Load a rules table (the packaged one by default)."""
        with (path or DEFAULT_RULES_FILE).open("rb") as file:
            return cls(parse_rules(tomllib.load(file)))

    def rule_for(self, method: str) -> Rule:
        """Return the deciding rule of a method (a deny-all rule when none matches)."""
        rule = self._decisions.get(method)
        if rule is None:
            rule = next(
                (r for r in self._rules if fnmatch.fnmatchcase(method, r.pattern)), _DENY_ALL
            )
            if len(self._decisions) >= self.MAX_CACHED_DECISIONS:
                self._decisions.clear()  # Only made-up names fill it; real ones come back.
            self._decisions[method] = rule
        return rule

    @property
    def cached_decisions(self) -> int:
        """Return how many decisions are cached (bounded by MAX_CACHED_DECISIONS)."""
        return len(self._decisions)

    def exposed(self, method: str) -> bool:
        """Return True if external callers may see the method at all."""
        return self.rule_for(method).expose

    def check(self, method: str, principal: Principal) -> None:
        """Raise unless `principal` may call `method`."""
        rule = self.rule_for(method)
        if not rule.expose:
            raise Unimplemented(f"method {method} is not available")
        if not rule.allows(principal):
            raise PermissionDenied(
                "caller's role may not call this method", reason="METHOD_NOT_ALLOWED"
            )
