"""The top bar: market clock and gate countdown, ledger head and verification, the
community's shares and the token supply."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from voisin.cli.dashboard.feed import LedgerFeed
from voisin.ledger.figures import tokens


def countdown(status: dict[str, Any] | None, since_poll_s: float) -> str:
    """The next gate closure as ``gate 12:15Z closes in 0:42``, from the operator."""
    if status is None:
        return "no operator attached"
    closes = status.get("gate_closes_in_s") or {}
    if not closes:
        return f"gates open: {', '.join(status.get('open_gates', [])) or 'none'}"
    gate, left = min(closes.items(), key=lambda x: x[1])
    left = max(0.0, left - since_poll_s)
    return f"gate {gate[11:]} closes in {int(left) // 60}:{int(left) % 60:02d}"


class ClockBar(Static):
    def show(
        self,
        feed: LedgerFeed,
        status: dict[str, Any] | None,
        since_poll_s: float,
        verified: str,
        paused: bool,
        selected: str | None,
    ) -> None:
        f = feed.figures
        cleared = [k for k, i in sorted(f.intervals.items()) if i.status]
        at = selected or (cleared[-1] if cleared else "-")
        clock = countdown(status, since_poll_s)
        self.update(
            f"[b]{at}[/b]  {clock}  head {feed.head_hash[:8]}"
            f"{'  [reverse] PAUSED [/reverse]' if paused else ''}\n"
            f"height {feed.height:,} {verified}  p2p share {f.p2p_share:.1%}  "
            f"self-suff. {f.self_sufficiency_text()}  {tokens(f.supply_micro):,.0f} tokens"
        )
