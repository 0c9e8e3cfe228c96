"""`voisin up`: an operator and one agent per member as child processes on this machine.

The children are plain `voisin operator` and `voisin agent` commands, so what runs here
is what would run on separate machines. Every child is stopped on the way out, by
SIGTERM first and SIGKILL after a grace period; the ledger is verified at the end.
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
from voisin.errors import InvalidInput
from voisin.protocol import KeyPair
from voisin.protocol.curve import read_key_file, write_key_file

GRACE_S = 5.0
"""How long children get to close their sockets and ledger after SIGTERM."""


@dataclass
class Launcher:
    households: int
    seed: int
    intervals: int
    speed: float
    out: Path
    port: int
    startup_s: float = 60.0
    operator: subprocess.Popen[bytes] | None = None
    agents: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _stopping: bool = False

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
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InvalidInput(f"cannot create {self.out}: {exc.strerror}",
                               code="bad-output") from None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.ledger}{suffix}").unlink(missing_ok=True)
        self.observer_key.unlink(missing_ok=True)
        write_key_file(self.observer_key, KeyPair.generate())

    def start(self) -> list[str]:
        """Start the operator and the agents; returns the member labels started."""
        self._prepare()
        labels = [str(i) for i in range(self.households)] + ["school"]
        server = default_neighbourhood(self.households, self.seed).operator.public_hex
        common = ["--households", str(self.households), "--seed", str(self.seed)]
        self.operator = subprocess.Popen(child_command(  # noqa: S603 - our own CLI
            "operator", *common, "--intervals", str(self.intervals), "--speed", str(self.speed),
            "--router", self.router, "--pub", self.pub, "--ledger", str(self.ledger),
            "--wait-agents", str(len(labels)),
            "--observer", read_key_file(self.observer_key).public_hex),
            stdout=subprocess.DEVNULL)
        for label in labels:
            self.agents.append(subprocess.Popen(child_command(  # noqa: S603 - our own CLI
                "agent", *common, "--household", label, "--operator", self.router,
                "--pub", self.pub, "--server-key", server,
                "--report", str(self.out / f"agent-{label}.json")), stdout=subprocess.DEVNULL))
        return labels

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
            server = default_neighbourhood(self.households, self.seed).operator.public_hex
            console.print(f"operator  {server}\n          requests {self.router}\n"
                          f"          events   {self.pub}\n          ledger   {self.ledger}\n"
                          f"dashboard voisin dashboard {self.ledger} --operator {self.router} "
                          f"--key {self.observer_key} --server-key {server}\n"
                          f"agents    {len(labels)} (households 0..{self.households - 1} and "
                          "the school)", highlight=False, soft_wrap=True, markup=False)
            budget = self.startup_s + self.intervals * 2.5 * 900 / self.speed
            deadline = time.monotonic() + budget
            assert self.operator is not None  # noqa: S101 - set by start
            while not self._stopping and self.operator.poll() is None:
                if time.monotonic() > deadline:
                    console.print("operator did not finish in time; stopping")
                    break
                time.sleep(0.1)
            if not self._stopping:  # agents leave by themselves on the operator's `end`
                wait_all(self.agents, time.monotonic() + GRACE_S)
        finally:
            self.terminate()
        if self._stopping:
            console.print("stopped; every child process ended")
        elif self.operator is not None and self.operator.returncode not in (0, None):
            console.print(f"the operator failed (exit status {self.operator.returncode}); "
                          "every child process ended", highlight=False, markup=False)
            return 1
        report = verify_ledger(self.ledger)
        problems = sum(len(json.loads(p.read_text()).get("problems", []))
                       for p in sorted(self.out.glob("agent-*.json")))
        console.print(f"ledger verified: height {report.height}, {report.transactions} "
                      f"transactions, balances ok={report.balances_ok}; "
                      f"agents reported {problems} problems", highlight=False, markup=False)
        return 0 if report.balances_ok and not problems else 1
