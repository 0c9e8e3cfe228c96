"""Fixtures for the live market: a real operator service on loopback, driven by a thread.

The service is the real one (ROUTER + PUB, CurveZMQ, ZAP allow-list, SQLite ledger); only
the timetable is driven by hand here, so a test opens and closes gates when it wants.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zmq

from voisin.agents import Member, Scenario, default_neighbourhood
from voisin.cli.live import free_port
from voisin.protocol import Interval, KeyPair
from voisin.protocol.clock import Phase
from voisin.transport.agent import RemoteAgent
from voisin.transport.service import OperatorService, ServiceConfig

HOUSEHOLDS = 3
SEED = 11
OBSERVER = KeyPair.derive("test", "dashboard")


@dataclass
class Served:
    """A running service plus a way to run code on its thread (phases, status)."""

    service: OperatorService
    scenario: Scenario
    router: str
    pub: str
    _jobs: queue.Queue[tuple[Callable[[], object], queue.Queue[object]]]

    def call(self, job: Callable[[], object], timeout: float = 10.0) -> object:
        done: queue.Queue[object] = queue.Queue()
        self._jobs.put((job, done))
        result = done.get(timeout=timeout)
        if isinstance(result, BaseException):
            raise result
        return result

    def phase(self, phase: Phase, interval: Interval) -> None:
        self.call(lambda: self.service.run_phase(phase, interval))

    def status(self) -> dict[str, object]:
        return self.call(self.service.status)  # type: ignore[return-value]

    def agent(self, member: Member, report_path: Path | None = None) -> RemoteAgent:
        """A real agent of ``member`` (seed 11) talking to this service over CurveZMQ."""
        return RemoteAgent(
            self.scenario,
            member,
            seed=11,
            router=self.router,
            pub=self.pub,
            server_hex=self.service.key.public_hex,
            report_path=report_path,
        )

    def wait_for_subscriptions(self, count: int, timeout_s: float = 10.0) -> None:
        """Until the service has seen ``count`` subscriptions (its XPUB frames): from
        then on a subscriber hears every event, with no fixed sleep."""
        deadline = time.monotonic() + timeout_s
        while self.status()["subscriptions"] < count:  # type: ignore[operator]
            assert time.monotonic() < deadline, "the subscription never reached the service"
            time.sleep(0.01)


def loopback_config(ledger: Path, **fields: Any) -> ServiceConfig:
    """A service's configuration on two free loopback ports (ROUTER, then PUB)."""
    port = free_port()
    return ServiceConfig(
        router=f"tcp://127.0.0.1:{port}",
        pub=f"tcp://127.0.0.1:{port + 1}",
        ledger=ledger,
        **fields,
    )


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    config = loopback_config(
        tmp_path / "ledger.sqlite",
        households=HOUSEHOLDS,
        seed=SEED,
        intervals=8,
        observers=(OBSERVER.public_hex,),
    )
    jobs: queue.Queue[tuple[Callable[[], object], queue.Queue[object]]] = queue.Queue()
    stop = threading.Event()
    ready: queue.Queue[OperatorService | BaseException] = queue.Queue()

    def loop() -> None:
        # SQLite connections belong to the thread that opened them: build, serve and
        # close the service all on this one thread.
        try:
            service = OperatorService(config)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test thread
            ready.put(exc)
            return
        ready.put(service)
        try:
            while not stop.is_set():
                service.serve_once(10)
                try:
                    job, done = jobs.get_nowait()
                except queue.Empty:
                    continue
                try:
                    done.put(job())
                except Exception as exc:  # noqa: BLE001 - handed back to the test thread
                    done.put(exc)
        finally:
            service.close()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    service = ready.get(timeout=30)
    if isinstance(service, BaseException):
        raise service
    try:
        yield Served(
            service, default_neighbourhood(HOUSEHOLDS, SEED), config.router, config.pub, jobs
        )
    finally:
        stop.set()
        thread.join(timeout=5)


@pytest.fixture
def context() -> Iterator[zmq.Context]:
    ctx = zmq.Context()
    try:
        yield ctx
    finally:
        ctx.destroy(linger=0)


def unanswered_agent(report: Path) -> RemoteAgent:
    """A member's agent of the one-household, seed-7 neighbourhood whose operator
    endpoints nobody listens on: connecting is asynchronous, so it is built at once and
    every request it makes goes unanswered."""
    scenario = default_neighbourhood(1, 7)
    assert scenario.operator is not None
    port = free_port()
    return RemoteAgent(
        scenario,
        scenario.members[0],
        seed=7,
        router=f"tcp://127.0.0.1:{port}",
        pub=f"tcp://127.0.0.1:{port + 1}",
        server_hex=scenario.operator.public_hex,
        report_path=report,
    )


def wait_for(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    """Poll ``condition`` until it holds (the event a test waits for, not a fixed time);
    False after ``timeout_s``, a bound on a failure only."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
