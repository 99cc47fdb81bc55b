"""Scraping a process's Prometheus endpoint and reading samples out of it."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from client_harness import a_client, create_request
from prometheus_client.parser import text_string_to_metric_families

from crm.client.v1 import client_service_pb2
from crm_client.domain.credit_code import make_credit_code

MONITORING = Path(__file__).resolve().parent.parent / "k8s" / "components" / "monitoring"


@dataclass(frozen=True)
class Sample:
    """One sample line: its full name (with _count, _total, _bucket ...), labels and value."""

    name: str
    labels: dict[str, str]
    value: float


class Scrape:
    """The samples of one scrape."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.samples = [
            Sample(s.name, dict(s.labels), s.value)
            for family in text_string_to_metric_families(text)
            for s in family.samples
        ]

    def names(self) -> set[str]:
        """Return every sample name present."""
        return {s.name for s in self.samples}

    def select(self, name: str, **labels: str) -> list[Sample]:
        """Return the samples of `name` whose labels include `labels`."""
        return [
            s
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]

    def total(self, name: str, **labels: str) -> float:
        """Return the sum of the matching samples (0 when none)."""
        return sum(s.value for s in self.select(name, **labels))

    def value(self, name: str, **labels: str) -> float:
        """Return the one matching sample's value."""
        found = self.select(name, **labels)
        assert len(found) == 1, (name, labels, found)
        return found[0].value


async def scrape(port: int) -> Scrape:
    """GET http://127.0.0.1:port/metrics."""
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    response.raise_for_status()
    return Scrape(response.text)


async def scrape_until(
    port: int, check: Callable[[Scrape], bool], *, what: str, timeout: float = 20.0
) -> Scrape:
    """Scrape every 0.1 s until `check` holds; fail with the last scrape's text if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            last = await scrape(port)
            if check(last):
                return last
        except httpx.HTTPError:
            last = None
        if time.monotonic() > deadline:
            tail = last.text[-3000:] if last is not None else "(no answer)"
            raise TimeoutError(f"metrics never showed {what}:\n{tail}")
        await asyncio.sleep(0.1)


async def repeat(times: int, call: Callable[[int], Awaitable[object]]) -> None:
    """Run `call(i)` for i in range(times), 8 at a time."""
    limit = asyncio.Semaphore(8)

    async def one(i: int) -> None:
        async with limit:
            await call(i)

    await asyncio.gather(*(one(i) for i in range(times)))


def numbered_client(index: int) -> client_service_pb2.CreateClientRequest:
    """Return a CreateClientRequest for a client with its own valid credit code."""
    return create_request(a_client(credit_code=make_credit_code("91440300", f"MA{index:06d}")))


_PROMQL_WORDS = frozenset({
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless",
    "bool", "offset", "inf", "nan",
})


def metric_names(expr: str) -> set[str]:
    """Return the metric names a PromQL expression selects."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)  # grouping labels
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", expr):
        following = expr[match.end():].lstrip()
        if following.startswith("(") or match.group() in _PROMQL_WORDS:
            continue  # a function or a keyword
        names.add(match.group())
    return names


def alert_expressions() -> dict[str, str]:
    """Return each alert's PromQL by alert name."""
    rule = yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())
    return {r["alert"]: r["expr"] for group in rule["spec"]["groups"] for r in group["rules"]}


def dashboard_expressions() -> dict[str, str]:
    """Return each dashboard query by panel title and query id."""
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return {f"{p['title']} {t['refId']}": t["expr"]
            for p in dashboard["panels"] for t in p["targets"]}
