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

from voisin.cli.grid_commands import add_grid_commands
from voisin.cli.ledger_commands import add_ledger_commands
from voisin.cli.live import add_live_commands
from voisin.errors import InvalidInput, VoisinError


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
    p.add_argument("--gift-share", type=float, default=0.3,
                   help="share of the sunniest household's surplus gifted to the school by "
                        "a ledger contract (default 0.3, 0 for none)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=_simulate)


def _add_market(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("market", help="re-clear an order book from files")
    msub = p.add_subparsers(dest="market_command", required=True)
    c = msub.add_parser("clear", help="clear BOOK.json on GRID.json and print the result")
    c.add_argument("book", type=Path)
    c.add_argument("--grid", type=Path, required=True)
    c.add_argument("--pricing", choices=("nodal", "uniform"), default="nodal",
                   help="one price per bus under line limits (default), or one price for all")
    c.set_defaults(run=_market_clear)


def _add_dashboard(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("dashboard", help="follow a ledger in a terminal dashboard (read-only)")
    p.add_argument("db", type=Path, nargs="?", default=Path("voisin-out/ledger.sqlite"))
    p.add_argument("--every", type=float, default=1.0,
                   help="seconds between looks for new blocks (default 1)")
    p.add_argument("--operator", help="a running operator's request endpoint, e.g. "
                                      "tcp://127.0.0.1:5555, to show its live counters")
    p.add_argument("--key", type=Path, help="observer key file (voisin up writes one)")
    p.add_argument("--server-key", help="the operator's public key (hex)")
    p.set_defaults(run=_dashboard)


def _dashboard(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.dashboard import DashboardApp, LedgerFeed, OperatorWatch
    from voisin.protocol.curve import read_key_file

    watch = None
    if args.operator:
        if args.key is None or args.server_key is None:
            raise InvalidInput("--operator needs --key (an observer key file) and "
                               "--server-key", code="missing-option")
        watch = OperatorWatch(args.operator, read_key_file(args.key), args.server_key)
    DashboardApp(LedgerFeed(args.db), every_s=max(args.every, 0.1), watch=watch).run()
    return 0


def _simulate(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.simulation import SimulationConfig, run_simulation
    from voisin.cli.summary import render_summary
    from voisin.protocol import parse

    config = parse(SimulationConfig, {
        "days": args.days, "seed": args.seed, "households": args.households,
        "start": args.start, "minutes": args.minutes, "out": args.out,
        "overwrite": args.overwrite, "gift_share": args.gift_share,
    }, "simulation settings")
    if args.quiet:
        report = run_simulation(config)
    else:
        from voisin.cli.progress import interval_progress

        with interval_progress(console, config) as advance:
            report = run_simulation(config, on_interval=advance)
    render_summary(report, console)
    return 0


def _market_clear(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.market_files import clear_files

    print(clear_files(args.book, args.grid, args.pricing))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voisin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    add_ledger_commands(sub)
    _add_market(sub)
    _add_dashboard(sub)
    add_live_commands(sub)
    add_grid_commands(sub)
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
