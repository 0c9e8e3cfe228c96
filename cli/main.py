"""The `voisin` command: thin argument parsing over the packages.

Every ``VoisinError`` becomes one line on stderr and exit status 2; no traceback.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from rich.console import Console

from voisin.cli.grid_commands import add_grid_commands
from voisin.cli.ledger_commands import add_ledger_commands
from voisin.cli.ledger_proof import ledger_source
from voisin.cli.live import add_live_commands
from voisin.errors import InvalidInput, VoisinError
from voisin.settings import DEFAULTS


def _add_simulate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    d = DEFAULTS
    p = sub.add_parser(
        "simulate", help="simulate days of a neighbourhood (default: the built-in scenario)"
    )
    p.add_argument(
        "--scenario",
        type=Path,
        help="scenario file (TOML; voisin scenario new "
        "writes one); the flags below override its [run] table",
    )
    p.add_argument("--days", type=int, help=f"days to simulate (default {d.days})")
    p.add_argument("--seed", type=int, help=f"random seed (default {d.seed})")
    p.add_argument("--households", type=int, help=f"households (default {d.households})")
    p.add_argument(
        "--start",
        type=date.fromisoformat,
        help=f"first day, YYYY-MM-DD (default {d.start}, a summer Monday)",
    )
    p.add_argument("--minutes", type=int, help=f"interval length (default {d.minutes})")
    p.add_argument(
        "--out",
        type=Path,
        default=Path("voisin-out"),
        help="output folder for ledger.sqlite (default ./voisin-out)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing ledger")
    p.add_argument(
        "--gift-share",
        type=float,
        help="share of the sunniest household's surplus gifted to the school by "
        f"a ledger contract (default {d.gift_share}, 0 for none)",
    )
    p.add_argument(
        "--rotate-pseudonyms",
        action="store_true",
        default=None,
        help="trade and meter under one-time keys per member and day, linked to the "
        "member only in sealed records (docs/privacy.md; default off)",
    )
    p.add_argument(
        "--grid",
        help="simbench:CODE: a SimBench LV grid and its households "
        "instead of the scenario's neighbourhood (e.g. simbench:1-LV-rural1--0-sw; "
        'needs pip install ".[simbench]")',
    )
    p.add_argument(
        "--no-grid-check",
        action="store_true",
        help="skip the AC power flow of every interval at the end",
    )
    p.add_argument(
        "--ledger",
        help="keep the ledger in PostgreSQL (postgresql://USER@HOST:PORT/DB) instead of "
        "OUT/ledger.sqlite; with --city every ledger, one schema each",
    )
    p.add_argument(
        "--city",
        help="small, default or a city file (JSON): many feeders under an MV network, "
        "cleared as a two-level market on Dask (docs/city.md)",
    )
    p.add_argument("--workers", type=int, default=1, help="Dask workers for --city (default 1)")
    p.add_argument("--scheduler", help="address of an existing Dask scheduler for --city")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--report", action="store_true", help="also write OUT/report.html (voisin report)"
    )
    p.set_defaults(run=_simulate)


_RUN_FLAGS = ("days", "seed", "households", "start", "minutes", "gift_share")


def _add_scenario(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("scenario", help="scenario files")
    ssub = p.add_subparsers(dest="scenario_command", required=True)
    n = ssub.add_parser("new", help="write a commented scenario template (never overwrites)")
    n.add_argument("out", type=Path, help="file to create, e.g. my-street.toml")
    for flag in _RUN_FLAGS:
        kind = date.fromisoformat if flag == "start" else (float if flag == "gift_share" else int)
        n.add_argument(
            f"--{flag.replace('_', '-')}",
            type=kind,
            help=f"[run] {flag} (default {getattr(DEFAULTS, flag)})",
        )
    n.set_defaults(run=_scenario_new)


def _given(args: argparse.Namespace) -> dict[str, object]:
    return {k: getattr(args, k) for k in _RUN_FLAGS if getattr(args, k) is not None}


def _scenario_new(args: argparse.Namespace, console: Console) -> int:
    from voisin.agents.scenario_template import render_template
    from voisin.cli.outputs import write_output
    from voisin.protocol import parse
    from voisin.settings import RunDefaults

    run = parse(RunDefaults, {**DEFAULTS.model_dump(), **_given(args)}, "scenario settings")
    # never overwrites, and a folder that is not there is a typo, not a place to make
    write_output(args.out, render_template(run, name=args.out.stem), make_folder=False)
    console.print(
        f"wrote {args.out}; run it with: voisin simulate --scenario {args.out}",
        highlight=False,
        markup=False,
    )
    return 0


def _add_market(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("market", help="re-clear an order book from files")
    msub = p.add_subparsers(dest="market_command", required=True)
    c = msub.add_parser("clear", help="clear BOOK.json on GRID.json and print the result")
    c.add_argument("book", type=Path)
    c.add_argument("--grid", type=Path, required=True)
    c.add_argument(
        "--pricing",
        choices=("nodal", "uniform"),
        default="nodal",
        help="one price per bus under line limits (default), or one price for all",
    )
    c.set_defaults(run=_market_clear)


def _add_audit(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from voisin.cli.ledger_commands import DEFAULT_DB, hex64

    p = sub.add_parser(
        "audit",
        help="re-clear every interval from the ledger alone and "
        "compare trades, prices and settlements byte for byte",
    )
    p.add_argument(
        "db",
        type=ledger_source,
        nargs="?",
        default=DEFAULT_DB,
        help=f"ledger file or postgresql:// URL (default {DEFAULT_DB})",
    )
    p.add_argument("--operator", type=hex64, help="pin the operator's public key (hex)")
    p.add_argument("--head", type=hex64, help="pin the newest block hash (hex)")
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="a city's ledgers audited in parallel on a local Dask cluster of N workers "
        "(default 1: in this process)",
    )
    p.add_argument("--scheduler", help="address of an existing Dask scheduler, for a city")
    p.set_defaults(run=_audit)


def _audit(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.audit import run_audit

    return run_audit(
        args.db,
        console,
        operator=args.operator,
        head=args.head,
        workers=args.workers,
        scheduler=args.scheduler,
    )


def _add_dashboard(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("dashboard", help="follow a ledger in a terminal dashboard (read-only)")
    p.add_argument("db", nargs="?", default="voisin-out/ledger.sqlite")
    p.add_argument(
        "--every", type=float, default=1.0, help="seconds between looks for new blocks (default 1)"
    )
    p.add_argument(
        "--operator",
        help="a running operator's request endpoint, e.g. "
        "tcp://127.0.0.1:5555, to show its live counters",
    )
    p.add_argument("--key", type=Path, help="observer key file (voisin up writes one)")
    p.add_argument("--server-key", help="the operator's public key (hex)")
    p.set_defaults(run=_dashboard)


def _dashboard(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.dashboard import DashboardApp, LedgerFeed, OperatorWatch
    from voisin.ledger.store import is_database_url
    from voisin.transport.curve import read_key_file

    watch = None
    if args.operator:
        if args.key is None or args.server_key is None:
            raise InvalidInput(
                "--operator needs --key (an observer key file) and --server-key",
                code="missing-option",
            )
        watch = OperatorWatch(args.operator, read_key_file(args.key), args.server_key)
    if not args.every > 0:
        raise InvalidInput(
            f"--every must be a positive number of seconds, not {args.every}", code="bad-option"
        )
    if is_database_url(args.db):  # never echo the URL: it may carry a password
        raise InvalidInput(
            "the dashboard follows a SQLite ledger file; for a PostgreSQL ledger use "
            "`voisin ledger show URL` or `voisin report URL --out FILE`",
            code="bad-ledger",
        )
    feed = LedgerFeed(Path(args.db))
    feed.refresh()  # a missing, empty, truncated or foreign file fails here, in one line
    DashboardApp(feed, every_s=max(args.every, 0.1), watch=watch).run()
    return 0


def _simulate(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.simulation import SimulationConfig, run_simulation
    from voisin.cli.summary import render_summary
    from voisin.protocol import parse

    if args.city is not None:
        from voisin.cli.city_run import simulate_city

        return simulate_city(
            args.city,
            args.out,
            workers=args.workers,
            scheduler=args.scheduler,
            overwrite=args.overwrite,
            quiet=args.quiet,
            console=console,
            ledger=args.ledger,
        )
    config = parse(
        SimulationConfig,
        {
            **_given(args),
            **({"rotate_pseudonyms": True} if args.rotate_pseudonyms else {}),
            "scenario": args.scenario,
            "out": args.out,
            "overwrite": args.overwrite,
            "grid": args.grid,
            "grid_check": not args.no_grid_check,
            "ledger": args.ledger,
        },
        "simulation settings",
    )
    run = config.resolved().run
    if args.quiet:
        report = run_simulation(config)
    else:
        from voisin.cli.progress import interval_progress

        with interval_progress(console, run) as advance:
            report = run_simulation(config, on_interval=advance)
    render_summary(report, console)
    if args.report:
        from voisin.cli.report import write_report

        source = config.ledger or report.ledger_path  # the URL itself, not its shown form
        target = write_report(
            source,
            out=config.out / "report.html" if config.ledger else None,
            overwrite=config.overwrite,
        )
        console.print(f"report: {target}", highlight=False)
    return 0


def _add_report(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a run's ledger")
    p.add_argument(
        "run_dir", nargs="?", default="voisin-out", help="folder, ledger file or postgresql:// URL"
    )
    p.add_argument("--out", type=Path, help="HTML file to write (default RUN_DIR/report.html)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing HTML file")
    p.set_defaults(run=_report)


def _report(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.report import write_report

    console.print(
        str(write_report(args.run_dir, args.out, overwrite=args.overwrite)), highlight=False
    )
    return 0


def _market_clear(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.market_files import clear_files

    print(clear_files(args.book, args.grid, args.pricing))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="voisin", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    _add_simulate(sub)
    _add_scenario(sub)
    add_ledger_commands(sub)
    _add_market(sub)
    _add_audit(sub)
    _add_dashboard(sub)
    _add_report(sub)
    add_live_commands(sub)
    add_grid_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        code: int = args.run(args, console)
        return code
    except VoisinError as exc:
        Console(stderr=True, soft_wrap=True).print(f"voisin: {exc}", markup=False, highlight=False)
        return 2
    except KeyboardInterrupt:
        Console(stderr=True).print("voisin: interrupted")
        return 130
    except BrokenPipeError:
        # the reader left (`voisin ledger headers | head`): no traceback, and stdout goes
        # to /dev/null so the interpreter's last flush does not raise again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, as a shell reports a command its pipe stopped


def run() -> None:
    """Console-script entry point. SIGTERM stops a command as Ctrl-C does, so what it
    was writing is cleaned up on the way out (``protocol.files``); the live commands
    install their own stop handlers."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    sys.exit(main())


if __name__ == "__main__":
    run()
