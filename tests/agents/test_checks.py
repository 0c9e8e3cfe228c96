"""The agent's reading of what the operator publishes: an event frame is taken only in
its exact shape, a malformed trade is named rather than crashing the agent, and the
report it leaves is JSON, block heights as keys."""

from __future__ import annotations

import json

import pytest

from voisin.agents.checks import AgentReport, check_trade, parse_event
from voisin.errors import VoisinError
from voisin.protocol import canonical_bytes


def test_an_event_in_its_shape_is_taken() -> None:
    frame = canonical_bytes({"v": 1, "type": "gate-open", "seq": 4, "body": {"interval": "x"}})
    assert parse_event(frame) == {"v": 1, "type": "gate-open", "seq": 4, "body": {"interval": "x"}}


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        b"[1, 2]",
        b'{"type": "end", "seq": "4", "body": {}}',  # seq a string
        b'{"type": "end", "seq": true, "body": {}}',  # a bool is not a sequence number
        b'{"type": 3, "seq": 4, "body": {}}',
        b'{"type": "end", "seq": 4, "body": []}',
        b"[" * 100_000,  # nested beyond the parser's recursion
    ],
)
def test_anything_else_is_a_bad_event(frame: bytes) -> None:
    with pytest.raises(VoisinError) as raised:
        parse_event(frame)
    assert raised.value.code == "bad-event"


def test_a_trade_without_its_fields_is_named_not_raised() -> None:
    assert check_trade({"buyer": "me"}, "me", {}) == "a trade that is not one (KeyError)"
    assert check_trade({"seller": "me"}, "me", {}) == "a trade that is not one (KeyError)"


def test_the_report_is_json_with_heights_as_keys() -> None:
    report = AgentReport("me", blocks={10: "b", 2: "a"}, rejected={"replay": 1})
    data = json.loads(report.to_json())
    assert data["blocks"] == {"2": "a", "10": "b"}  # heights as JSON keys
    assert data["participant"] == "me"
    assert data["rejected"] == {"replay": 1}
    assert data["ended"] is False
