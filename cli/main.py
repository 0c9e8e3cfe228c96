"""The `voisin` command: thin argument parsing over the packages.

Every ``VoisinError`` becomes one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rich.console import Console

from voisin.errors import VoisinError


def _add_simulate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate a whole day of the default neighbourhood")
    p.add_argument("--days", type=int, default=1, help="days to simulate (default 1)")
    p.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    p.add_argument("--households", type=int, default=30, help="households (default 30)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 6, 22),
                   help="first day, YYYY-MM-DD (default 2026-06-22, a summer Monday)")
    p.add_argument("--minutes", type=int, default=15, help="interval length (default 15)")
    p.add_argument("--out", type=Path, default=Path("voisin-out"),
                   help="output folder for ledger.sqlite (default ./voisin-out)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing ledger")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_simulate)


def _add_ledger(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ledger", help="verify or show a ledger")
    lsub = p.add_subparsers(dest="ledger_command", required=True)
    v = lsub.add_parser("verify", help="recompute every hash, root, signature and balance")
    v.add_argument("db", type=Path, nargs="?", default=Path("voisin-out/ledger.sqlite"))
    v.set_defaults(run=_ledger_verify)
    s = lsub.add_parser("show", help="list blocks, or one participant's statement")
    s.add_argument("db", type=Path, nargs="?", default=Path("voisin-out/ledger.sqlite"))
    s.add_argument("--limit", type=int, default=20, help="blocks to list (default 20)")
    s.set_defaults(run=_ledger_show)


def _add_market(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("market", help="re-clear an order book from files")
    msub = p.add_subparsers(dest="market_command", required=True)
    c = msub.add_parser("clear", help="clear BOOK.json on GRID.json and print the result")
    c.add_argument("book", type=Path)
    c.add_argument("--grid", type=Path, required=True)
    c.set_defaults(run=_market_clear)


def _simulate(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.simulation import SimulationConfig, run_simulation
    from voisin.cli.summary import render_summary
    from voisin.protocol import parse

    config = parse(SimulationConfig, {
        "days": args.days, "seed": args.seed, "households": args.households,
        "start": args.start, "minutes": args.minutes, "out": args.out,
        "overwrite": args.overwrite,
    }, "simulation settings")
    if args.quiet:
        report = run_simulation(config)
    else:
        from voisin.cli.progress import interval_progress

        with interval_progress(console, config) as advance:
            report = run_simulation(config, on_interval=advance)
    render_summary(report, console)
    return 0


def _ledger_verify(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.ledger_view import show_verify

    return show_verify(args.db, console)


def _ledger_show(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.ledger_view import show_blocks

    return show_blocks(args.db, console, limit=args.limit)


def _market_clear(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.market_files import clear_files

    print(clear_files(args.book, args.grid))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voisin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_ledger(sub)
    _add_market(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        return args.run(args, console)
    except VoisinError as exc:
        Console(stderr=True, soft_wrap=True).print(f"voisin: {exc}", markup=False,
                                                  highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("voisin: interrupted")
        return 130


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())


if __name__ == "__main__":
    run()
