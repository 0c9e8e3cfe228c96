"""Rich progress bars: one that advances once per cleared interval, and a plain count of
done items (feeder-intervals, ledgers) with the time elapsed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from voisin.protocol import ClearingResult, Interval, TradeKind
from voisin.settings import RunDefaults


def count_bar(console: Console, label: str, *, transient: bool = False) -> Progress:
    """A bar of done items out of a total, with the time elapsed, titled ``label``."""
    columns = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=transient)


@contextmanager
def interval_progress(
    console: Console, config: RunDefaults
) -> Iterator[Callable[[Interval, ClearingResult], None]]:
    total = config.days * 1440 // config.minutes
    columns = (
        TextColumn("[bold]simulating"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[now]}  p2p {task.fields[p2p]:.1f} kWh"),
        TimeElapsedColumn(),
    )
    progress = Progress(*columns, console=console)
    task = progress.add_task("intervals", total=total, now="", p2p=0.0, start=False)
    p2p = 0.0

    def advance(interval: Interval, result: ClearingResult) -> None:
        # Started on the first cleared interval, so a refused setting prints no bar.
        nonlocal p2p
        if not progress.live.is_started:
            progress.start()
            progress.start_task(task)
        p2p += sum(t.energy_kwh for t in result.trades if t.kind is TradeKind.P2P)
        progress.update(task, advance=1, now=interval.id, p2p=p2p)

    try:
        yield advance
    finally:
        if progress.live.is_started:
            progress.stop()
