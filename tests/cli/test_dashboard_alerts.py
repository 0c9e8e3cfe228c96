"""The dashboard's alert rules and sparklines on hand-built inputs."""

from __future__ import annotations

from typing import Any

from voisin.cli.dashboard.alerts import LedgerAlerts, Severity, operator_alerts
from voisin.cli.dashboard.charts import spark

A = "a" * 64


def _settle(interval: str, kwh: float, eur: float, estimated: bool = False) -> dict[str, Any]:
    return {
        "participant": A,
        "interval": interval,
        "imbalance_kwh": kwh,
        "imbalance_eur": eur,
        "estimated": estimated,
    }


def test_ledger_rules_name_their_block() -> None:
    alerts = LedgerAlerts()
    alerts.take("clearing", {"interval": "T1", "status": "optimal"}, 3)
    alerts.take("clearing", {"interval": "T2", "status": "empty"}, 4)
    alerts.take("settlement", _settle("T2", -1.0, -0.25), 5)  # T1 never settled
    alerts.take("settlement", _settle("T2", 0.5, 40.0), 5)  # 80 EUR/kWh
    got = [(a.severity, a.what, a.source) for a in alerts.raised]
    assert got == [
        (Severity.WARNING, "empty clearing T2: no bid crossed", "block 4"),
        (Severity.WARNING, "T1 cleared (block 3) but unsettled", "block 5"),
        (Severity.ERROR, f"absurd settlement {A[:8]} T2: 0.500 kWh for 40.00 EUR", "block 5"),
    ]


def test_estimated_readings_rising() -> None:
    alerts = LedgerAlerts()
    alerts.take("settlement", _settle("T1", 0.1, 0.01, estimated=True), 1)
    alerts.take("settlement", _settle("T2", 0.1, 0.01, estimated=True), 2)
    assert alerts.raised == []  # one a interval, as before
    alerts.take("settlement", _settle("T2", 0.1, 0.01, estimated=True), 2)
    assert [a.what for a in alerts.raised] == ["estimated readings rising: 2 in T2"]


def _status(alive: int, **rejected: int) -> dict[str, Any]:
    return {"alive": alive, "counters": {"rejected": rejected}, "failures": []}


def test_operator_rules() -> None:
    assert operator_alerts(_status(3), _status(3)) == []
    gone = operator_alerts(_status(3), _status(2))
    assert [(a.severity, a.source) for a in gone] == [(Severity.WARNING, "status: alive")]
    spike = operator_alerts(_status(3, malformed=1), _status(3, malformed=9))
    assert [(a.severity, a.what) for a in spike] == [(Severity.ERROR, "refused 8 x malformed")]
    first = operator_alerts(_status(3), _status(3, replay=1))
    assert [(a.severity, a.source) for a in first] == [(Severity.WARNING, "status: replay")]
    assert operator_alerts(_status(3), None)[0].what == "operator unreachable"


def test_sparkline_scales_fills_and_buckets() -> None:
    assert spark([0.0, 1.0], 4) == "▁▁██"
    # levels 1..8: 0.5 sits at 1 + 3.5 = 4.5, rounded half to even: 4
    assert spark([0.0, 0.5, 1.0], 3, low=0.0, high=1.0) == "▁▄█"
    assert spark([0.0, 0.0, 1.0, 1.0], 2) == "▁█"
    assert spark([None, 2.0], 2) == " ▄"
    assert spark([], 5) == ""


def test_refusals_by_code_over_time() -> None:
    from voisin.cli.dashboard.operator import _over_time

    history = [{"replay": 1}, {"replay": 1, "malformed": 2}, {"replay": 4, "malformed": 2}]
    # per poll: malformed +2 then +0; replay +0 then +3
    assert _over_time(history) == "malformed 2 █████▁▁▁▁▁  replay 4 ▁▁▁▁▁█████"
