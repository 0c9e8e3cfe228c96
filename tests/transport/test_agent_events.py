"""What a member's agent does with each event the operator publishes, in-process: real
blocks from a recorded ledger signed by the operator the agent pins, a forged one, a gap
it asks the (here unreachable) operator to fill, and events that are not events."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.transport.conftest import unanswered_agent
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.ledger import SqliteStore
from voisin.protocol import canonical_bytes
from voisin.protocol.wire import PROTOCOL_VERSION, EventType
from voisin.transport.agent import RemoteAgent


@pytest.fixture(scope="module")
def blocks(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """The first blocks of a one-household day, as the operator publishes them."""
    out = tmp_path_factory.mktemp("day")
    run = run_simulation(SimulationConfig(out=out, households=1, minutes=60, grid_check=False))
    with SqliteStore(run.ledger_path, read_only=True) as store:
        return [store.block(h).model_dump(mode="json") for h in range(6)]


@pytest.fixture
def agent(tmp_path: Path) -> Iterator[RemoteAgent]:
    agent = unanswered_agent(tmp_path / "agent.json")  # the recorded day's members
    agent.client.timeout_s, agent.client.retries = 0.05, 0
    yield agent
    agent.close()


def _event(seq: int, topic: EventType, body: dict[str, Any]) -> list[bytes]:
    payload = {"v": PROTOCOL_VERSION, "type": topic.value, "seq": seq, "body": body}
    return [topic.value.encode(), canonical_bytes(payload)]


def test_blocks_in_order_are_checked_and_a_forged_one_is_a_problem(
    agent: RemoteAgent, blocks: list[dict[str, Any]]
) -> None:
    agent.on_event(_event(1, EventType.BLOCK, blocks[0]))
    assert list(agent.report.blocks) == [0]
    forged = json.loads(json.dumps(blocks[1]))
    forged["transactions"][0]["body"]["time"] = "2026-01-01T00:00:00+00:00"
    agent.on_event(_event(2, EventType.BLOCK, forged))
    assert len(agent.report.problems) == 1
    assert "bad-block" in agent.report.problems[0]
    assert list(agent.report.blocks) == [0]  # the forgery is not taken as the head
    agent.on_event(_event(3, EventType.BLOCK, blocks[1]))
    assert list(agent.report.blocks) == [0, 1]
    assert agent.report.events_missed == 0


def test_a_gap_is_asked_for_and_an_unreachable_operator_is_counted(
    agent: RemoteAgent, blocks: list[dict[str, Any]]
) -> None:
    agent.on_block(blocks[0])
    agent.on_block(blocks[4])  # blocks 1-3 were missed: the agent asks for block 1
    assert agent.report.rejected == {"operator-unreachable": 1}
    assert agent.client.stats.failures == 1
    # block 4 is still checked on its own (signature, Merkle root), without the link
    assert list(agent.report.blocks) == [0, 4]
    assert agent.report.problems == []


def test_events_that_are_not_events_are_noted_and_the_end_stops(agent: RemoteAgent) -> None:
    agent.on_event([b"block", b"{not json"])
    agent.on_event(_event(1, EventType.BLOCK, {}))  # a block event without its block
    agent.on_event(_event(5, EventType.CLEARING, {}))  # seq 2-4 lost on the way
    assert agent.report.problems == [
        "bad-event: an event that is not one",
        "bad-event: a block event without its fields (KeyError)",
    ]
    assert agent.report.events_missed == 3
    assert not agent.report.ended
    agent.on_event(_event(6, EventType.END, {}))
    assert agent.report.ended
