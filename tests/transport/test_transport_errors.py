"""What the transport does with a bad endpoint, a taken port, a folder it cannot make and
a damaged report file: one line (exit 2) in the CLI, never a traceback, and no state lost.
Real sockets on loopback; each test is in-process and well under a second of socket work."""

from __future__ import annotations

import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import zmq

from tests.transport.conftest import unanswered_agent
from voisin.agents import default_neighbourhood
from voisin.cli.live import free_port
from voisin.cli.main import main
from voisin.errors import VoisinError
from voisin.ledger import verify_ledger
from voisin.protocol import KeyPair
from voisin.transport.client import OperatorClient
from voisin.transport.service import OperatorService, ServiceConfig


def _one_line(capsys: pytest.CaptureFixture[str], start: str) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith(start), err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_a_taken_request_port_is_one_line_and_leaves_a_valid_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    port = free_port()
    ledger = tmp_path / "ledger.sqlite"
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        code = main(["operator", "--households", "1", "--intervals", "1",
                     "--router", f"tcp://127.0.0.1:{port}", "--ledger", str(ledger)])  # fmt: skip
    assert code == 2
    _one_line(capsys, f"voisin: bad-endpoint: cannot listen on tcp://127.0.0.1:{port}")
    # the ledger it opened before listening was closed cleanly: a restart resumes from it
    assert verify_ledger(ledger).height >= 0


def test_a_router_without_a_port_needs_pub(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["operator", "--households", "1", "--router", "tcp://127.0.0.1"]) == 2
    _one_line(capsys, "voisin: bad-endpoint: 'tcp://127.0.0.1' has no port; give --pub")


def test_a_ledger_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x", encoding="utf-8")
    port = free_port()
    code = main(["operator", "--households", "1", "--router", f"tcp://127.0.0.1:{port}",
                 "--ledger", str(blocker / "live" / "ledger.sqlite")])  # fmt: skip
    assert code == 2
    _one_line(capsys, f"voisin: bad-output: cannot create {blocker / 'live'}")


def test_real_time_starts_on_the_interval_grid_after_the_next_boundary(tmp_path: Path) -> None:
    port = free_port()
    before = datetime.now(UTC)
    service = OperatorService(
        ServiceConfig(
            households=1,
            start=None,
            minutes=15,
            intervals=3,
            router=f"tcp://127.0.0.1:{port}",
            pub=f"tcp://127.0.0.1:{port + 1}",
            ledger=tmp_path / "ledger.sqlite",
        )  # fmt: skip
    )
    try:
        starts = [i.start for i in service.intervals]
    finally:
        service.close()
    length = timedelta(minutes=15)
    # never a gate already closing: more than one whole interval ahead, at most two
    assert before + length < starts[0] <= datetime.now(UTC) + 2 * length
    assert (starts[0].minute % 15, starts[0].second, starts[0].microsecond) == (0, 0, 0)
    assert [b - a for a, b in zip(starts, starts[1:], strict=False)] == [length, length]


def test_a_client_with_a_bad_endpoint_says_so() -> None:
    key, server = KeyPair.derive("test", "client"), KeyPair.derive("test", "server")
    with zmq.Context() as context, pytest.raises(VoisinError) as caught:
        OperatorClient(context, "nowhere", key, server.public_hex)
    assert caught.value.code == "bad-endpoint"
    assert "cannot connect to nowhere" in caught.value.message


@pytest.mark.parametrize("flag", ["--pub", "--operator"])
def test_an_agent_with_a_bad_endpoint_is_one_line(
    flag: str, capsys: pytest.CaptureFixture[str]
) -> None:
    pub = ["--pub", "tcp://127.0.0.1:1"] if flag == "--operator" else []
    assert main(["agent", "--households", "1", *pub, flag, "nowhere"]) == 2
    _one_line(capsys, "voisin: bad-endpoint: cannot connect to the operator")


def test_a_restarted_agent_takes_back_only_its_own_earlier_bids(tmp_path: Path) -> None:
    report = tmp_path / "agent.json"
    member = default_neighbourhood(1, 7).members[0].id
    earlier = {"participant": member, "bids": {"2026-06-22T10:00Z": {"seq": 3}},
               "readings": ["2026-06-22T09:45Z"]}  # fmt: skip
    report.write_text(json.dumps(earlier), encoding="utf-8")
    agent = unanswered_agent(report)
    agent.close()  # writes its report: the earlier bids and readings are still there
    kept = json.loads(report.read_text(encoding="utf-8"))
    assert kept["bids"] == earlier["bids"]
    assert kept["readings"] == earlier["readings"]

    report.write_text(json.dumps({**earlier, "participant": "someone else"}), encoding="utf-8")
    agent = unanswered_agent(report)
    assert agent.report.bids == {}
    assert agent.report.readings == []
    agent.close()


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"participant": "%s", "bids": 5}',
        '{"participant": "%s", "readings": 5}',
    ],
)
def test_a_damaged_earlier_report_is_a_warning_not_a_crash(
    text: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    report = tmp_path / "agent.json"
    member = default_neighbourhood(1, 7).members[0].id
    report.write_text(text.replace("%s", member), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="voisin.agent"):
        agent = unanswered_agent(report)
    try:
        assert agent.report.bids == {}
        assert agent.report.readings == []
        assert "cannot read the earlier report" in caplog.text
    finally:
        agent.close()


def test_keys_new_into_a_place_it_cannot_write_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "me.key"
    assert main(["keys", "new", str(target)]) == 2
    _one_line(capsys, f"voisin: bad-output: cannot write {target}")
    assert not target.parent.exists()
