"""The operator panel: live intake counters, refusals by code over time, agents alive."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.widgets import Static

from voisin.cli.dashboard.charts import spark


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} {n:,}" for code, n in sorted(counts.items())) or "none"


class OperatorPanel(Static):
    """What the running operator refused and why; the ledger never sees these.
    ``history`` is the refused total at each poll, drawn as refusals per poll."""

    def show(
        self, status: dict[str, Any] | None, endpoint: str, history: Sequence[int] = ()
    ) -> None:
        if status is None:
            self.update(f"[b]operator[/b] {endpoint}: [red]unreachable[/red]")
            return
        c = status["counters"]
        steps = [b - a for a, b in zip(history, history[1:], strict=False)]
        self.update(
            f"[b]operator[/b] {endpoint}  height {status['height']:,}  agents alive "
            f"{status['alive']:,}  requests {c['received']:,}  accepted {c['accepted']:,}\n"
            f"refused: {_codes(c['rejected'])}  {spark(steps, 20, 0.0)}\n"
            f"market refused: {_codes(status.get('market_rejections', {}))}  CURVE refused "
            f"{c['curve_refused']:,}"
        )
