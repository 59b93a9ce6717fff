"""docs/operations.md and the Grafana dashboard name the metrics /metrics exports, and only
those: a renamed metric cannot leave a dead panel or an alert that never fires."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client, override_settings

DOCS = Path(__file__).resolve().parents[2] / "docs"
# Exported on PostgreSQL only: the test database may be SQLite.
POSTGRESQL_ONLY = {"kopilka_db_connections", "kopilka_db_connections_max"}


def family(name: str) -> str:
    return re.sub(r"_(bucket|sum|count|total)$", "", name)


@pytest.fixture
def exported(db) -> set[str]:
    with override_settings(METRICS_TOKEN="t"):
        text = Client().get("/metrics", headers={"Authorization": "Bearer t"}).content.decode()
    names = {family(name) for name in re.findall(r"^# TYPE (kopilka_\w+)", text, re.MULTILINE)}
    return names | POSTGRESQL_ONLY


def test_the_dashboard_is_valid_json_and_shows_only_exported_metrics(exported):
    dashboard = json.loads((DOCS / "grafana-kopilka.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel["targets"]]
    shown = {family(name) for expr in expressions for name in re.findall(r"kopilka_\w+", expr)}
    assert shown == exported  # every metric has a panel, and every panel a metric
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])


def test_the_operations_guide_documents_every_metric_and_alerts_on_real_ones(exported):
    guide = (DOCS / "operations.md").read_text()
    section = guide.split("## Metrics\n", 1)[1].split("\n## ", 1)[0]
    table = {family(name) for name in re.findall(r"^\| `(kopilka_\w+)`", section, re.MULTILINE)}
    assert table == exported
    rules = section.split("```yaml\n# kopilka-rules.yml", 1)[1].split("```", 1)[0]
    assert {family(name) for name in re.findall(r"kopilka_\w+", rules)} <= exported
