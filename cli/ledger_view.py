"""`voisin ledger verify|show`: read-only views of a ledger file."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from voisin.cli.ledger_proof import existing_ledger, shown
from voisin.errors import InvalidInput
from voisin.ledger import verify_ledger
from voisin.ledger.figures import tokens
from voisin.ledger.store import open_store


def show_verify(
    db: str | Path, console: Console, *, operator: str | None = None, head: str | None = None
) -> int:
    """Verify and print one line; a failure raises (one line, exit 2, in the CLI). A
    city run's folder is verified whole: every ledger and the links between them."""
    from voisin.city.verify import is_city, verify_city

    if is_city(db):
        city = verify_city(db, operator=operator, head_hash=head)
        console.print(
            f"[bold green]verified[/] city {shown(db)}: the city ledger and {city.feeders} feeder "
            f"ledgers, {city.blocks} blocks, {city.links} links to feeder blocks, each "
            f"feeder at the city's allocation; city head {city.city_head[:16]}",
            highlight=False,
        )
        return 0
    report = verify_ledger(existing_ledger(db), operator=operator, head_hash=head)
    counts = report.counts
    pinned = (
        " (operator and head pinned)"
        if operator and head
        else (" (operator pinned)" if operator else " (head pinned)" if head else "")
    )
    console.print(
        f"[bold green]verified[/]{pinned}: {report.blocks} blocks, {report.transactions:,} "
        f"transactions, height {report.height}; {report.intervals_cleared} intervals cleared, "
        f"{report.intervals_settled} settled; {counts.get('bid', 0):,} bid and "
        f"{counts.get('reading', 0):,} meter signatures, every price, payment, settlement "
        f"and reward re-derived; token supply {tokens(report.supply_micro):,.2f}; head "
        f"{report.head_hash[:16]}",
        highlight=False,
    )
    return 0


def show_blocks(db: str | Path, console: Console, *, limit: int = 20) -> int:
    if limit < 1:
        raise InvalidInput(f"--limit must be at least 1, not {limit}", code="bad-option")
    store = open_store(existing_ledger(db), read_only=True)
    try:
        table = Table(title=f"Last {limit} blocks of {shown(db)}")
        for name in ("height", "interval", "transactions", "hash"):
            table.add_column(name, justify="right" if name == "height" else "left")
        height = store.height()
        for h in range(max(0, height - limit + 1), height + 1):
            block = store.block(h)
            kinds = Counter(t.kind.value for t in block.transactions)
            summary = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
            table.add_row(
                str(h), block.header.interval or "-", summary, block.header.block_hash()[:12]
            )
        console.print(table)
    finally:
        store.close()
    return 0
