"""What the operator should look at: rules over the ledger as it grows and over the live
operator's status, each alert with a severity and the block or message that raised it.

Ledger rules (``LedgerAlerts``, fed every transaction with its block height): an empty
clearing, a clearing that failed, estimated readings rising from one interval to the
next, an interval cleared but still unsettled once a later one has settled, an absurd
settlement (an imbalance price outside [0, ``ABSURD_PRICE_EUR_PER_KWH``] or more energy
than ``ABSURD_IMBALANCE_KWH``). Operator rules (``operator_alerts``, two successive
status polls): an agent gone, a spike of refusals, a failure the operator recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from voisin.protocol import TxKind

ABSURD_PRICE_EUR_PER_KWH = 2.0
ABSURD_IMBALANCE_KWH = 1_000.0
REFUSAL_SPIKE = 5
"""Refusals between two polls from which a spike is raised."""


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Alert:
    severity: Severity
    what: str
    source: str
    """The block (``block 42``) or operator message (``status: malformed``) behind it."""


@dataclass
class LedgerAlerts:
    """Rules over transactions, in chain order."""

    raised: list[Alert] = field(default_factory=list)
    _cleared: dict[str, int] = field(default_factory=dict)
    _settled: set[str] = field(default_factory=set)
    _estimated: dict[str, int] = field(default_factory=dict)
    _flagged_unsettled: set[str] = field(default_factory=set)

    def take(self, kind: str, body: Mapping[str, Any], height: int) -> None:
        where = f"block {height}"
        if kind == TxKind.CLEARING.value:
            interval, status = body["interval"], body.get("status", "")
            self._cleared[interval] = height
            if status == "empty":
                self.raised.append(
                    Alert(Severity.WARNING, f"empty clearing {interval}: no bid crossed", where)
                )
            elif status not in ("optimal", ""):
                self.raised.append(Alert(Severity.ERROR, f"clearing {interval} {status}", where))
        elif kind == TxKind.SETTLEMENT.value:
            self._settlement(body, where)

    def _settlement(self, body: Mapping[str, Any], where: str) -> None:
        interval = body["interval"]
        if interval not in self._settled:
            self._settled.add(interval)
            for earlier in sorted(self._cleared):
                if earlier < interval and earlier not in self._settled:
                    if earlier not in self._flagged_unsettled:
                        self._flagged_unsettled.add(earlier)
                        self.raised.append(
                            Alert(
                                Severity.WARNING,
                                f"{earlier} cleared (block {self._cleared[earlier]}) but unsettled",
                                where,
                            )
                        )
        kwh, eur = body["imbalance_kwh"], body["imbalance_eur"]
        price = abs(eur / kwh) if abs(kwh) > 1e-9 else 0.0
        if price > ABSURD_PRICE_EUR_PER_KWH or abs(kwh) > ABSURD_IMBALANCE_KWH:
            self.raised.append(
                Alert(
                    Severity.ERROR,
                    f"absurd settlement {body['participant'][:8]} {interval}: "
                    f"{kwh:,.3f} kWh for {eur:,.2f} EUR",
                    where,
                )
            )
        if body.get("estimated"):
            count = self._estimated[interval] = self._estimated.get(interval, 0) + 1
            before = [n for iv, n in self._estimated.items() if iv < interval]
            if before and count == max(before) + 1:
                self.raised.append(
                    Alert(
                        Severity.WARNING,
                        f"estimated readings rising: {count} in {interval}",
                        where,
                    )
                )


def operator_alerts(before: Mapping[str, Any] | None, now: Mapping[str, Any] | None) -> list[Alert]:
    """Alerts from two successive status polls (``None``: no answer)."""
    if now is None:
        return [Alert(Severity.ERROR, "operator unreachable", "status: no answer")]
    found: list[Alert] = []
    if before is not None:
        if now["alive"] < before["alive"]:
            found.append(
                Alert(
                    Severity.WARNING,
                    f"agent gone: {now['alive']:,} alive, {before['alive']:,} before",
                    "status: alive",
                )
            )
        old = before["counters"]["rejected"]
        for code, n in sorted(now["counters"]["rejected"].items()):
            if n - old.get(code, 0) >= REFUSAL_SPIKE or (n and code not in old):
                found.append(
                    Alert(
                        Severity.WARNING
                        if n - old.get(code, 0) < REFUSAL_SPIKE
                        else Severity.ERROR,
                        f"refused {n - old.get(code, 0):,} x {code}",
                        f"status: {code}",
                    )
                )
    for failure in now.get("failures", [])[-3:]:
        found.append(
            Alert(
                Severity.ERROR,
                f"{failure['phase']} of {failure['interval']} failed",
                f"status: {failure['code']}",
            )
        )
    return found
