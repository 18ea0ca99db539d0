"""The sample Grafana dashboard reads only metrics the server exports: a renamed metric fails
here, not on an operator's empty panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

from prometheus_client.metrics import MetricWrapperBase

from server import metrics

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana-dashboard.json"
SUFFIXES = ("_bucket", "_sum", "_count", "_total")


def _exported() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        if isinstance(value, MetricWrapperBase):
            names.update(family.name for family in value.describe())
    return names


def test_every_panel_queries_an_exported_metric():
    exported = _exported()
    assert {"wardsync_push_items", "wardsync_lock_wait_seconds"} <= exported
    panels = json.loads(DASHBOARD.read_text())["panels"]
    used = set()
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            for name in re.findall(r"\bwardsync_[a-z_]+", target["expr"]):
                base = name
                for suffix in SUFFIXES:
                    base = base.removesuffix(suffix)
                assert base in exported, (panel["title"], name)
                used.add(base)
    assert used == exported, f"metrics with no panel: {exported - used}"
