"""The services the CLI knows, by name, imported only when a command needs one."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crm_runtime import kit

SERVICES = ("client", "risk", "notify", "feedback")
# `migrate all` also brings the gateway's audit store up to date.
MIGRATABLE = (*SERVICES, "gateway")


def spec(name: str) -> kit.ServiceSpec[Any, Any]:
    """Return the kit spec of a service (`crm_<name>.app.SPEC`)."""
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; one of {', '.join(SERVICES)}")
    found: kit.ServiceSpec[Any, Any] = importlib.import_module(f"crm_{name}.app").SPEC
    return found


def settings(name: str, database_url: str = "") -> Any:
    """Return a service's settings from the environment, with the store URL overridden."""
    overrides = {"database_url": database_url} if database_url else {}
    return spec(name).settings(**overrides)
