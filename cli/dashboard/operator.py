"""The operator panel: live intake counters, refusals by code, agents alive."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static


def _codes(counts: dict[str, int]) -> str:
    return ", ".join(f"{code} {n}" for code, n in sorted(counts.items())) or "none"


class OperatorPanel(Static):
    """What the running operator refused and why; the ledger never sees these."""

    def show(self, status: dict[str, Any] | None, endpoint: str) -> None:
        if status is None:
            self.update(f"[b]operator[/b] {endpoint}: [red]unreachable[/red]")
            return
        c = status["counters"]
        self.update(
            f"[b]operator[/b] {endpoint}  height {status['height']}  agents alive "
            f"{status['alive']}  open gates {', '.join(status['open_gates']) or '-'}\n"
            f"requests {c['received']:,}  accepted {c['accepted']:,}  resends "
            f"{c['resends']:,}  unroutable {c['unroutable']}  overflow {c['hwm_overflow']}  "
            f"CURVE refused {c['curve_refused']}\n"
            f"refused: {_codes(c['rejected'])}\n"
            f"market refused: {_codes(status.get('market_rejections', {}))}"
        )
