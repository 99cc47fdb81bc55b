"""The alert rules and the dashboard ask only for metrics the code exports, by the names the
Prometheus exporter gives them, and the rendered monitoring objects are in place."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kustomize_real import render
from metrics_harness import alert_expressions, dashboard_expressions, metric_names

ROOT = Path(__file__).resolve().parents[2]

# Runs in a fresh interpreter: the meter provider must be the exporter's before any
# instrument is created. Every instrument the platform's modules create gets one value, every
# gauge one source, and the real Prometheus exporter renders what a scrape would return.
_EXPORT = """
import sys
from opentelemetry import metrics
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest

metrics.set_meter_provider(MeterProvider(metric_readers=[PrometheusMetricReader()]))
import crm_runtime.metrics as platform
platform.set_collecting(True)  # what configure_telemetry does when a reader is configured
import crm_runtime.admission, crm_runtime.inbox, crm_runtime.outbox_metrics
import crm_notify.queue_metrics, crm_risk.app, crm_gateway.app  # their own metrics

for name, module in list(sys.modules.items()):
    if not name.startswith("crm"):
        continue
    for value in list(vars(module).values()):
        if isinstance(value, metrics.Histogram):
            value.record(1.0)
        elif isinstance(value, platform.DurationHistogram):
            value.record(1.0, {})
        elif isinstance(value, metrics.Counter):
            value.add(1)
for gauge in platform._gauges.values():
    gauge.add_value(platform, lambda _: 0.0)
print(generate_latest(REGISTRY).decode())
"""

def exported_names() -> set[str]:
    """Return every sample name a scrape of the platform's processes can contain."""
    output = subprocess.run(
        [sys.executable, "-c", _EXPORT], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    return {line.split("{")[0].split(" ")[0] for line in output.splitlines()
            if line and not line.startswith("#")}


@pytest.fixture(scope="module")
def exported() -> set[str]:
    return exported_names()


def test_metric_names_are_read_out_of_promql() -> None:
    expr = ('sum by (service) (rate(rpc_server_duration_milliseconds_count{a=~"2|4"}[5m])) '
            "/ on (pod) max(crm_outbox_lag_seconds) > 0.05")
    assert metric_names(expr) == {"rpc_server_duration_milliseconds_count",
                                  "crm_outbox_lag_seconds"}


def test_every_alert_and_panel_reads_exported_metrics(exported: set[str]) -> None:
    expressions = {**alert_expressions(), **dashboard_expressions()}
    unknown = {name: sorted(metric_names(expr) - exported)
               for name, expr in expressions.items() if metric_names(expr) - exported}
    assert not unknown, f"not exported by any process: {unknown}"
    assert all(metric_names(expr) for expr in expressions.values())


def test_a_misspelt_metric_is_caught(exported: set[str]) -> None:
    assert metric_names("max(crm_outbox_lag_secs) > 1") - exported == {"crm_outbox_lag_secs"}


def test_the_alerts_cover_what_the_runbook_names() -> None:
    read = set().union(*(metric_names(e) for e in alert_expressions().values()))
    assert read >= {
        "rpc_server_duration_milliseconds_count", "rpc_server_duration_milliseconds_bucket",
        "crm_outbox_lag_seconds", "crm_notify_dead_letters", "crm_gateway_audit_backlog",
        "crm_risk_monitoring_queue_depth",
    }


@pytest.mark.parametrize("overlay", ["staging", "prod"])
def test_monitoring_objects_are_rendered(overlay: str) -> None:
    manifests = render(ROOT / "k8s" / "overlays" / overlay)
    named = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert {("PrometheusRule", "crm"), ("PodMonitor", "crm")} <= named
    dashboards = [m for m in manifests if m["kind"] == "ConfigMap"
                  and m["metadata"].get("labels", {}).get("grafana_dashboard") == "1"]
    assert len(dashboards) == 1
    json.loads(dashboards[0]["data"]["crm-platform.json"])
    for deployment in (m for m in manifests if m["kind"] == "Deployment"):
        ports = {p["name"]: p["containerPort"]
                 for c in deployment["spec"]["template"]["spec"]["containers"]
                 for p in c.get("ports") or []}
        assert ports.get("metrics") == 9464, deployment["metadata"]["name"]
