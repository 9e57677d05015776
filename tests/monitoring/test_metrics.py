"""/metrics: Prometheus text, one registry per application, bounded labels; the example
alert rules and dashboard use only metrics that exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from tests.api import FakeClock, make_settings
from tests.monitoring.conftest import Monitored
from vcorch.app import create_app
from vcorch.monitoring.metrics import Metrics
from vcorch.web.keys import METRICS

DOCS = Path(__file__).resolve().parents[2] / "docs"
ALLOWED_LABELS = {
    *("province", "kind", "state", "outcome", "to", "bridge", "result", "le"),
    *("period", "basis"),  # the online share: the target year, verified or declared
}


def _samples(text: str) -> list[Sample]:
    return [
        sample
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("vcorch_")
    ]


def _value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for sample in samples:
        if sample.name == name and sample.labels == labels:
            return float(sample.value)
    return None


def exported_names() -> set[str]:
    """Every series name a Metrics registry can expose (counters end in _total...)."""
    names = set()
    for family in Metrics().registry.collect():
        if family.type == "counter":
            names |= {family.name + "_total", family.name + "_created"}
        elif family.type == "histogram":
            names |= {family.name + suffix for suffix in ("_bucket", "_sum", "_count")}
        else:
            names.add(family.name)
    return names


async def test_metrics_after_a_sweep_without_authentication(
    monitored: Monitored, clock: FakeClock
) -> None:
    service = monitored.service
    await service.sweep_all(clock.now)
    await service.housekeeping(clock.now)
    await service.refresh_bridges()
    response = await monitored.api.client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    samples = _samples(await response.text())
    # Endpoint counts by province (second-level unit), kind and state: bac-ha counts
    # under Lào Cai, its province.
    for province, state, count in (
        ("central", "up", 1),
        ("lao-cai", "up", 1),
        ("lao-cai", "down", 1),
        ("dien-bien", "down", 1),
    ):
        assert (
            _value(samples, "vcorch_endpoints", province=province, kind="sip", state=state) == count
        )
    assert _value(samples, "vcorch_probes_total", kind="sip", outcome="ok") == 2
    assert _value(samples, "vcorch_probes_total", kind="sip", outcome="unhealthy") == 1
    assert _value(samples, "vcorch_probes_total", kind="sip", outcome="down") == 1
    # Round trips of the three answers (the refused probe has none).
    assert _value(samples, "vcorch_probe_duration_seconds_count", kind="sip") == 3
    assert _value(samples, "vcorch_endpoint_transitions_total", to="up") == 2
    assert _value(samples, "vcorch_endpoint_transitions_total", to="down") == 2
    assert _value(samples, "vcorch_probe_sweep_duration_seconds_count") == 1
    # The default simulated bridge answers its health check.
    assert _value(samples, "vcorch_bridge_up", bridge="mo-phong") == 1
    assert _value(samples, "vcorch_bridge_ports_total", bridge="mo-phong") is not None
    # Labels stay bounded: nothing per endpoint, per meeting or per request.
    for sample in samples:
        assert set(sample.labels) <= ALLOWED_LABELS, sample

    # An endpoint switched off leaves the counts at the next housekeeping.
    status, _ = await monitored.admin.patch(
        f"/api/endpoints/{monitored.world.endpoints['dien-bien']}", {"probe_enabled": False}
    )
    assert status == 200
    await service.housekeeping(clock.now)
    samples = _samples(await (await monitored.api.client.get("/metrics")).text())
    assert (
        _value(samples, "vcorch_endpoints", province="dien-bien", kind="sip", state="down") is None
    )


async def test_each_application_has_its_own_registry(database_url: str) -> None:
    first = create_app(make_settings(database_url), background=False)
    second = create_app(make_settings(database_url), background=False)
    first[METRICS].meetings_live.set(3)
    first[METRICS].dial_outs.labels(result="placed").inc()
    first[METRICS].scheduler_lag_seconds.set(1.5)
    rendered = _samples(first[METRICS].render().decode())
    assert _value(rendered, "vcorch_meetings_live") == 3
    assert _value(rendered, "vcorch_dial_outs_total", result="placed") == 1
    assert _value(rendered, "vcorch_scheduler_lag_seconds") == 1.5
    assert _value(_samples(second[METRICS].render().decode()), "vcorch_meetings_live") == 0


def _expressions(node: object) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(_expressions(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(_expressions(item))
    return found


def _metric_names(expression: str) -> set[str]:
    return set(re.findall(r"\bvcorch_[a-z_]+\b", expression))


def test_the_example_alert_rules_and_dashboard_use_exported_metrics() -> None:
    exported = exported_names()
    rules = yaml.safe_load((DOCS / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert len(alerts) >= 8
    for rule in alerts:
        assert rule["alert"] and rule["expr"] and rule["labels"]["severity"]
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    expressions = _expressions(rules) + _expressions(dashboard)
    used = set().union(*(_metric_names(expression) for expression in expressions))
    assert used - exported == set()
    # Everything exported is shown or alerted on somewhere.
    shown = {name.removesuffix("_bucket") for name in used}
    for family in Metrics().registry.collect():
        assert any(name.startswith(family.name) for name in shown), family.name
