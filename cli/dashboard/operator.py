"""The operator panel: live intake counters, refusals by code over time, agents alive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import Static

from voisin.cli.dashboard.charts import spark


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} {n:,}" for code, n in sorted(counts.items())) or "none"


def _over_time(history: Sequence[dict[str, int]]) -> str:
    """Each refusal code's count per poll as a sparkline, with its total."""
    codes = sorted({code for counts in history for code in counts})
    parts = []
    for code in codes:
        totals = [counts.get(code, 0) for counts in history]
        steps = [b - a for a, b in zip(totals, totals[1:], strict=False)]
        parts.append(f"{code} {totals[-1]:,} {spark(steps, 10, 0.0)}")
    return "  ".join(parts) or "none"


class OperatorPanel(Static):
    """What the running operator refused and why; the ledger never sees these.
    ``history`` is the refusals by code at each poll, drawn as refusals per poll."""

    def show(
        self,
        status: dict[str, Any] | None,
        endpoint: str,
        history: Sequence[dict[str, int]] = (),
    ) -> None:
        if status is None:
            self.update(f"[b]operator[/b] {endpoint}: [red]unreachable[/red]")
            return
        c = status["counters"]
        self.update(
            f"[b]operator[/b] {endpoint}  height {status['height']:,}  agents alive "
            f"{status['alive']:,}  requests {c['received']:,}  accepted {c['accepted']:,}\n"
            f"refused: {_over_time([*history] or [c['rejected']])}\n"
            f"market refused: {_codes(status.get('market_rejections', {}))}  CURVE refused "
            f"{c['curve_refused']:,}"
        )
