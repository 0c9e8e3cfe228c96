"""`voisin operator`, `voisin agent`, `voisin keys new` and `voisin up`: the live market.

Thin: each command turns flags into a config and runs the service, the agent or a
handful of child processes. Stopping is always by SIGINT/SIGTERM, handled as a request
to finish the current step and close sockets and the ledger cleanly.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from rich.console import Console

from voisin.errors import InvalidInput
from voisin.settings import DEFAULTS, LIVE_START, ROUTER

if TYPE_CHECKING:
    from voisin.agents import Member, Scenario

DEFAULT_START = LIVE_START
DEFAULT_ROUTER = ROUTER


def _start(text: str) -> datetime | None:
    if text == "now":
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not YYYY-MM-DDTHH:MM or 'now'") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pub_of(router: str) -> str:
    """The PUB endpoint next to a ROUTER endpoint: same host, port + 1."""
    head, _, port = router.rpartition(":")
    if not port.isdigit():
        raise InvalidInput(f"{router!r} has no port; give --pub explicitly", code="bad-endpoint")
    return f"{head}:{int(port) + 1}"


def _on_signals(stop: Callable[[], None]) -> None:
    """Stop on SIGINT/SIGTERM, and say on stderr what the service or agent refused."""
    logging.basicConfig(level=logging.WARNING, format="voisin %(name)s: %(message)s")
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop())


def _market_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--households",
        type=int,
        default=DEFAULTS.households,
        help=f"households (default {DEFAULTS.households})",
    )
    p.add_argument(
        "--seed", type=int, default=DEFAULTS.seed, help=f"scenario seed (default {DEFAULTS.seed})"
    )


def _add_operator(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("operator", help="run the market operator behind ZeroMQ/CurveZMQ")
    _market_flags(p)
    p.add_argument(
        "--start",
        type=_start,
        default=_start(DEFAULT_START),
        help=f"first interval, UTC, or 'now' (default {DEFAULT_START})",
    )
    p.add_argument(
        "--minutes",
        type=int,
        default=DEFAULTS.minutes,
        help=f"interval length (default {DEFAULTS.minutes})",
    )
    p.add_argument(
        "--speed",
        type=float,
        default=900.0,
        help="market seconds per wall second (default 900: an interval a second)",
    )
    p.add_argument("--intervals", type=int, default=96, help="intervals to run (default 96)")
    p.add_argument("--router", default=DEFAULT_ROUTER, help=f"requests (default {DEFAULT_ROUTER})")
    p.add_argument("--pub", default=None, help="events (default: router port + 1)")
    p.add_argument("--ledger", type=Path, default=Path("voisin-live/ledger.sqlite"))
    p.add_argument(
        "--wait-agents",
        type=int,
        default=0,
        help="hold the clock until this many agents said hello (default 0)",
    )
    p.add_argument(
        "--observer",
        action="append",
        default=[],
        metavar="HEX",
        help="a read-only key (a dashboard's Ed25519 id) allowed to subscribe "
        "and query; repeatable",
    )
    p.add_argument(
        "--registry",
        type=Path,
        help="community registry (JSON) instead of the demo neighbourhood; needs --key",
    )
    p.add_argument("--key", type=Path, help="the operator's key file (voisin keys new)")
    p.set_defaults(run=_operator)


def _operator(args: argparse.Namespace, console: Console) -> int:
    from voisin.market.community import Community
    from voisin.market.registry import load_registry
    from voisin.transport.curve import read_key_file
    from voisin.transport.service import OperatorService, ServiceConfig

    _settings(args, minutes=args.minutes, wait_agents=args.wait_agents)
    community = None
    if args.registry is not None:
        if args.key is None:
            raise InvalidInput(
                "--registry needs --key (the operator's key file)", code="missing-option"
            )
        community = Community.from_registry(load_registry(args.registry), read_key_file(args.key))
    config = ServiceConfig(
        households=args.households,
        seed=args.seed,
        start=args.start,
        minutes=args.minutes,
        speed=args.speed,
        intervals=args.intervals,
        router=args.router,
        pub=args.pub or _pub_of(args.router),
        ledger=args.ledger,
        wait_agents=args.wait_agents,
        observers=tuple(args.observer),
    )
    service = OperatorService(config, community)
    _on_signals(service.stop)
    console.print(
        f"operator {service.key.public_hex}\n  requests {config.router}\n"
        f"  events   {config.pub}\n  ledger   {config.ledger}",
        highlight=False,
        markup=False,
    )
    service.run()
    console.print(
        f"operator stopped at height {service.ledger.height}; "
        f"{service.counters.as_dict(service.allow)}",
        highlight=False,
        markup=False,
    )
    return 0


class AgentConfig(BaseModel):
    """`voisin agent --config FILE` (TOML); the same names as the flags."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    household: str = "0"
    households: int = Field(default=DEFAULTS.households, ge=1)
    seed: int = Field(default=DEFAULTS.seed, ge=0)
    operator: str = DEFAULT_ROUTER
    pub: str | None = None
    server_key: str | None = None
    report: Path | None = None
    registry: Path | None = None
    key: Path | None = None
    meter_key: Path | None = None
    strategy: Literal["zi-c", "truthful", "zip"] | None = None
    """The agent's bidding strategy (``agents.strategies``); None: the scenario's."""


def _add_agent(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("agent", help="run one household's agent against an operator")
    p.add_argument("--config", type=Path, help="TOML file with the settings below")
    p.add_argument("--household", help="member index (0-based) or 'school' (default 0)")
    p.add_argument(
        "--households", type=int, help=f"households in the scenario (default {DEFAULTS.households})"
    )
    p.add_argument(
        "--seed",
        type=int,
        help=f"scenario seed; fixes this member's keys (default {DEFAULTS.seed})",
    )
    p.add_argument("--operator", help=f"operator request endpoint (default {DEFAULT_ROUTER})")
    p.add_argument("--pub", help="operator event endpoint (default: request port + 1)")
    p.add_argument(
        "--server-key",
        help="the operator's pinned id, Ed25519 hex (default: the demo scenario's operator)",
    )
    p.add_argument("--report", type=Path, help="write what the agent saw to this JSON file")
    p.add_argument(
        "--registry",
        type=Path,
        help="community registry (JSON): trade as the "
        "member whose key is --key, instead of a demo household",
    )
    p.add_argument("--key", type=Path, help="this participant's key file (voisin keys new)")
    p.add_argument("--meter-key", type=Path, help="this participant's meter key file")
    p.add_argument(
        "--strategy",
        help="bidding strategy: zi-c (default), truthful or zip (learns from each clearing)",
    )
    p.set_defaults(run=_agent)


def _agent_config(args: argparse.Namespace) -> AgentConfig:
    from voisin.protocol import parse

    data: dict[str, Any] = {}
    if args.config is not None:
        try:
            data = tomllib.loads(args.config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError) as exc:
            raise InvalidInput(f"cannot read {args.config}: {exc}", code="bad-config") from None
    for name in (
        "household",
        "households",
        "seed",
        "operator",
        "pub",
        "server_key",
        "report",
        "registry",
        "key",
        "meter_key",
        "strategy",
    ):
        value = getattr(args, name)
        if value is not None:
            data[name] = value
    if "household" in data:
        data["household"] = str(data["household"])
    return parse(AgentConfig, data, "agent settings")


def _demo_member(config: AgentConfig) -> tuple[Scenario, Member]:
    """A household (by index) or the school of the seeded demo neighbourhood."""
    from voisin.agents import default_neighbourhood

    scenario = default_neighbourhood(config.households, config.seed)
    households = [m for m in scenario.members if m.participant.kind.value != "school"]
    if config.household == "school":
        return scenario, next(m for m in scenario.members if m.participant.kind.value == "school")
    if config.household.isdigit() and int(config.household) < len(households):
        return scenario, households[int(config.household)]
    raise InvalidInput(
        f"household {config.household!r} is not 0..{len(households) - 1} or 'school'",
        code="bad-household",
    )


def _demo_operator(scenario: Scenario) -> str:
    assert scenario.operator is not None  # noqa: S101 - the demo derives one from its seed
    return scenario.operator.public_hex


def _agent(args: argparse.Namespace, console: Console) -> int:
    from voisin.agents.registered import own_scenario
    from voisin.market.registry import load_registry
    from voisin.transport.agent import RemoteAgent
    from voisin.transport.curve import read_key_file

    config = _agent_config(args)
    if config.registry is not None:
        if config.key is None or config.meter_key is None:
            raise InvalidInput("--registry needs --key and --meter-key", code="missing-option")
        registry = load_registry(config.registry)
        scenario, member = own_scenario(
            registry, read_key_file(config.key), read_key_file(config.meter_key)
        )
        server_hex = config.server_key or registry.operator
    else:
        scenario, member = _demo_member(config)
        server_hex = config.server_key or _demo_operator(scenario)
    if config.strategy is not None:
        member = replace(member, strategy=config.strategy)
    agent = RemoteAgent(
        scenario,
        member,
        seed=config.seed,
        router=config.operator,
        pub=config.pub or _pub_of(config.operator),
        server_hex=server_hex,
        report_path=config.report,
    )
    _on_signals(agent.stop)
    report = agent.run()
    console.print(
        f"agent {member.id[:12]}: {len(report.bids)} bids, {len(report.trades)} "
        f"trades, {len(report.blocks)} blocks checked, {len(report.problems)} "
        "problems",
        highlight=False,
        markup=False,
    )
    return 1 if report.problems else 0


def _add_keys(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("keys", help="make identities (Ed25519, with their CurveZMQ keys)")
    ksub = p.add_subparsers(dest="keys_command", required=True)
    n = ksub.add_parser("new", help="write a new key file (never overwrites)")
    n.add_argument("out", type=Path, help="key file to create (mode 0600)")
    n.set_defaults(run=_keys_new)


def _keys_new(args: argparse.Namespace, console: Console) -> int:
    from voisin.protocol import KeyPair
    from voisin.transport.curve import curve_keypair, write_key_file

    key = KeyPair.generate()
    write_key_file(args.out, key)
    console.print(
        f"participant {key.public_hex}\ncurve       "
        f"{curve_keypair(key)[0].decode()}\nwritten to  {args.out}",
        highlight=False,
        markup=False,
    )
    return 0


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now (port + 1 is checked too)."""
    for _ in range(50):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return int(port)
    raise InvalidInput("no free pair of ports on 127.0.0.1", code="no-port")


def _add_up(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("up", help="start an operator and one agent per member on this machine")
    _market_flags(p)
    p.add_argument("--intervals", type=int, default=8, help="intervals to run (default 8)")
    p.add_argument("--speed", type=float, default=900.0, help="default 900: an interval a second")
    p.add_argument("--out", type=Path, default=Path("voisin-live"), help="ledger and reports")
    p.add_argument("--overwrite", action="store_true", help="replace an existing ledger")
    p.add_argument("--port", type=int, default=0, help="request port (default: a free one)")
    p.set_defaults(run=_up)


class LiveSettings(BaseModel):
    """The numbers `voisin operator` and `voisin up` take, checked before anything runs."""

    model_config = ConfigDict(frozen=True)

    households: int = Field(ge=1, le=5000)
    seed: int = Field(ge=0, lt=2**63)
    intervals: int = Field(ge=1, le=100_000)
    speed: float = Field(gt=0, le=1e6, allow_inf_nan=False)
    minutes: int = Field(default=15, ge=1, le=1440)
    port: int = Field(default=0, ge=0, le=65534)
    """0 picks a free port; otherwise the request port, events on port + 1."""
    wait_agents: int = Field(default=0, ge=0)


def _settings(args: argparse.Namespace, **fields: Any) -> LiveSettings:
    from voisin.protocol import parse

    return parse(
        LiveSettings,
        {
            "households": args.households,
            "seed": args.seed,
            "intervals": args.intervals,
            "speed": args.speed,
            **fields,
        },
        f"{args.command} settings",
    )


def _up(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.live_up import Launcher

    settings = _settings(args, port=args.port)
    launcher = Launcher(
        households=settings.households,
        seed=settings.seed,
        intervals=settings.intervals,
        speed=settings.speed,
        out=args.out,
        port=settings.port or free_port(),
        overwrite=args.overwrite,
    )
    _on_signals(launcher.stop)
    return launcher.run(console)


def add_live_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register operator, agent, keys and up on the `voisin` parser."""
    _add_operator(sub)
    _add_agent(sub)
    _add_keys(sub)
    _add_up(sub)


def child_command(*args: str) -> list[str]:
    """How to run `voisin ARGS` as a child process of this Python."""
    return [sys.executable, "-m", "voisin.cli.main", *args]


def wait_all(processes: list[subprocess.Popen[bytes]], deadline: float) -> None:
    for proc in processes:
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
