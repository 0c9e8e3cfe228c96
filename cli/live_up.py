"""`voisin up`: an operator and one agent per member as child processes on this machine.

The children are plain `voisin operator` and `voisin agent` commands, so what runs here
is what would run on separate machines. `up` supervises them: an agent that dies is
started again (it says hello and carries on with the next gate), and an operator that
dies is started again on the same ledger, which it resumes (open books, unsettled
intervals); each up to ``MAX_RESTARTS`` times. Every child is stopped on the way out,
by SIGTERM first and SIGKILL after a grace period; the ledger is verified at the end.
An existing ledger or observer key in ``--out`` is replaced only with ``--overwrite``.
"""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console

from voisin.agents import default_neighbourhood
from voisin.cli.live import child_command, wait_all
from voisin.cli.outputs import claim_ledger
from voisin.errors import InvalidInput
from voisin.protocol import KeyPair
from voisin.transport.curve import read_key_file, write_key_file

GRACE_S = 5.0
"""How long children get to close their sockets and ledger after SIGTERM."""
MAX_RESTARTS = 3
"""How often one child is started again after dying before `up` gives up on it."""


@dataclass
class Launcher:
    households: int
    seed: int
    intervals: int
    speed: float
    out: Path
    port: int
    overwrite: bool = False
    startup_s: float = 60.0
    operator: subprocess.Popen[bytes] | None = None
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)
    restarts: dict[str, int] = field(default_factory=dict)
    """Restarts so far by child ("operator", "agent 0", ...)."""
    _stopping: bool = False
    _commands: dict[str, list[str]] = field(default_factory=dict)

    @property
    def router(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    @property
    def pub(self) -> str:
        return f"tcp://127.0.0.1:{self.port + 1}"

    @property
    def observer_key(self) -> Path:
        """A fresh read-only identity for dashboards, made by every `up`."""
        return self.out / "observer.key"

    @property
    def ledger(self) -> Path:
        return self.out / "ledger.sqlite"

    def stop(self) -> None:
        self._stopping = True

    def _prepare(self) -> None:
        """The ledger and the observer key, each refused if there unless ``--overwrite``;
        both are checked before either is replaced."""
        if not self.overwrite and (self.observer_key.exists() or self.observer_key.is_symlink()):
            raise InvalidInput(
                f"{self.observer_key} exists; pass --overwrite to replace it "
                "or --out to write elsewhere",
                code="key-exists",
            )
        claim_ledger(self.ledger, overwrite=self.overwrite)
        write_key_file(self.observer_key, KeyPair.generate(), overwrite=self.overwrite)

    def _spawn(self, name: str) -> subprocess.Popen[bytes]:
        command = self._commands[name]
        return subprocess.Popen(command, stdout=subprocess.DEVNULL)  # noqa: S603 - our own CLI

    def _server_hex(self) -> str:
        operator = default_neighbourhood(self.households, self.seed).operator
        assert operator is not None  # the demo neighbourhood derives its operator key
        return operator.public_hex

    def start(self) -> list[str]:
        """Start the operator and the agents; returns the member labels started."""
        self._prepare()
        labels = [str(i) for i in range(self.households)] + ["school"]
        server = self._server_hex()
        common = ["--households", str(self.households), "--seed", str(self.seed)]
        self._commands["operator"] = child_command(
            "operator",
            *common,
            "--intervals",
            str(self.intervals),
            "--speed",
            str(self.speed),
            "--router",
            self.router,
            "--pub",
            self.pub,
            "--ledger",
            str(self.ledger),
            "--wait-agents",
            str(len(labels)),
            "--observer",
            read_key_file(self.observer_key).public_hex,
        )
        for label in labels:
            self._commands[f"agent {label}"] = child_command(
                "agent",
                *common,
                "--household",
                label,
                "--operator",
                self.router,
                "--pub",
                self.pub,
                "--server-key",
                server,
                "--report",
                str(self.out / f"agent-{label}.json"),
            )
        self.operator = self._spawn("operator")
        self.agents = [self._spawn(f"agent {label}") for label in labels]
        return labels

    def supervise(self, console: Console) -> bool:
        """Start again every child that died; False once one died too often.

        Dead means killed by a signal, or for the operator also a crash (status 1); a
        child that refused its settings (status 2) would only refuse them again, and an
        agent that ended by itself saw the operator's end."""
        for name, proc in zip(self._commands, [self.operator, *self.agents], strict=True):
            assert proc is not None  # set by start
            code = proc.poll()
            if code is None or not (code < 0 or (name == "operator" and code == 1)):
                continue
            count = self.restarts.get(name, 0) + 1
            if count > MAX_RESTARTS:
                console.print(f"{name} died {count} times; giving up", highlight=False)
                return False
            self.restarts[name] = count
            console.print(
                f"{name} ended with status {proc.returncode}; starting it again "
                f"({count} of {MAX_RESTARTS})",
                highlight=False,
                markup=False,
            )
            fresh = self._spawn(name)
            if name == "operator":
                self.operator = fresh
            else:
                self.agents[list(self._commands).index(name) - 1] = fresh
        return True

    def terminate(self) -> None:
        """SIGTERM every child still running, then SIGKILL after the grace period."""
        children = [p for p in [self.operator, *self.agents] if p is not None]
        for proc in children:
            if proc.poll() is None:
                proc.terminate()
        wait_all(children, time.monotonic() + GRACE_S)

    def run(self, console: Console) -> int:
        from voisin.ledger import verify_ledger

        try:
            labels = self.start()
            server = self._server_hex()
            console.print(
                f"operator  {server}\n          requests {self.router}\n"
                f"          events   {self.pub}\n          ledger   {self.ledger}\n"
                f"dashboard voisin dashboard {self.ledger} --operator {self.router} "
                f"--key {self.observer_key} --server-key {server}\n"
                f"agents    {len(labels)} (households 0..{self.households - 1} and "
                "the school)",
                highlight=False,
                soft_wrap=True,
                markup=False,
            )
            budget = self.startup_s + self.intervals * 2.5 * 900 / self.speed
            deadline = time.monotonic() + budget
            assert self.operator is not None  # noqa: S101 - set by start
            while not self._stopping and self.operator.poll() not in (0, 2):
                if time.monotonic() > deadline:
                    console.print("operator did not finish in time; stopping")
                    break
                if not self.supervise(console):
                    break
                time.sleep(0.1)
            if not self._stopping:  # agents leave by themselves on the operator's `end`
                wait_all(self.agents, time.monotonic() + GRACE_S)
        finally:
            self.terminate()
        if self._stopping:
            console.print("stopped; every child process ended")
        elif self.operator is not None and self.operator.returncode not in (0, None):
            console.print(
                f"the operator failed (exit status {self.operator.returncode}); "
                "every child process ended",
                highlight=False,
                markup=False,
            )
            return 1
        report = verify_ledger(self.ledger)
        problems = sum(
            len(json.loads(p.read_text()).get("problems", []))
            for p in sorted(self.out.glob("agent-*.json"))
        )
        console.print(
            f"ledger verified: height {report.height}, {report.transactions} "
            f"transactions, balances ok={report.balances_ok}; "
            f"agents reported {problems} problems",
            highlight=False,
            markup=False,
        )
        return 0 if report.balances_ok and not problems else 1
