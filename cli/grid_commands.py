"""`voisin grid ...`: the arguments of the grid commands; each imports its module (and
pandapower) only when it runs, so `voisin --help` stays fast."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from voisin.cli.ledger_commands import DEFAULT_DB


def _check(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.grid_check import run_grid_check

    return run_grid_check(args.db, args.grid, console, metered=args.metered)


def add_grid_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    gsub = sub.add_parser(
        "grid", help="the feeder's physics: AC checks of cleared intervals"
    ).add_subparsers(dest="grid_command", required=True)
    c = gsub.add_parser("check", help="AC power flow of every cleared interval of a ledger")
    c.add_argument(
        "db", type=Path, nargs="?", default=DEFAULT_DB, help=f"ledger file (default {DEFAULT_DB})"
    )
    c.add_argument(
        "--grid",
        help="the physical grid: a JSON file or simbench:CODE (default: "
        "the default neighbourhood's feeder, if the ledger was "
        "cleared on it)",
    )
    c.add_argument(
        "--metered",
        action="store_true",
        help="check what the meters measured instead of the cleared schedule",
    )
    c.set_defaults(run=_check)
