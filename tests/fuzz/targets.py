"""Everything the network or the command line feeds voisin, as fuzz targets.

Network: the operator's request intake (one frame in, one reply out, through the real
service: envelope, signatures, replay guard, market core, journal), the envelope
decoder alone, and on the agent's side operator replies, event frames and published
blocks. Files the CLI reads: grid and order-book JSON (`market clear`), community
registries, key files, proofs and header chains (`ledger check-proof`), sealed
statements, agent TOML settings, and ledger files themselves.

Each target takes bytes and either returns or raises ``VoisinError`` (a refusal, counted
by code); anything else is a crash. Seeds are valid inputs, so mutations start deep.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from voisin.agents import default_neighbourhood
from voisin.agents.checks import check_block, check_trade, parse_event
from voisin.cli.live import free_port
from voisin.cli.market_files import clear_files
from voisin.cli.simulation import SimulationConfig, run_simulation
from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import verify_ledger
from voisin.ledger.proofs import (
    check_proof,
    export_headers,
    headers_json,
    load_json,
    proof_json,
    prove,
)
from voisin.ledger.statements import open_statement, seal_statement, statement_for
from voisin.meters import Meter
from voisin.protocol import Bid, KeyPair, canonical_bytes
from voisin.protocol.clock import Phase
from voisin.protocol.envelope import (
    ack,
    decode_reply,
    parse_envelope,
    reject,
    seal,
    seal_bid,
    sign_bid,
)
from voisin.protocol.wire import MessageType
from voisin.transport.curve import read_key_file, write_key_file
from voisin.transport.service import OperatorService, ServiceConfig

HOUSEHOLDS = 3
SEED = 11


@dataclass
class Target:
    name: str
    seeds: list[bytes]
    run: Callable[[bytes], object]
    runs: int = 1000
    """How many inputs a CI run feeds it (ledger files cost milliseconds each)."""


class Refused(VoisinError):
    """A reply the intake sent back: a refusal of the request, by code."""


def _file_target(
    folder: Path, name: str, read: Callable[[Path], object]
) -> Callable[[bytes], object]:
    path = folder / name

    def run(data: bytes) -> object:
        path.write_bytes(data)
        return read(path)

    return run


def _agent_settings(path: Path) -> object:
    from voisin.cli.live import _agent_config
    from voisin.cli.main import build_parser

    return _agent_config(build_parser().parse_args(["agent", "--config", str(path)]))


class Targets:
    """Every target, with the files and the live service their seeds come from.
    ``close`` stops the service."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        scenario = default_neighbourhood(HOUSEHOLDS, SEED)
        port = free_port()
        self.service = OperatorService(
            ServiceConfig(
                households=HOUSEHOLDS,
                seed=SEED,
                intervals=4,
                ledger=folder / "live.sqlite",
                router=f"tcp://127.0.0.1:{port}",
                pub=f"tcp://127.0.0.1:{port + 1}",
            )
        )
        first = self.service.intervals[0]
        self.service.run_phase(Phase.OPEN_GATE, first)
        member = scenario.members[0]
        bid = sign_bid(
            member.keypair,
            Bid(
                bid_id=f"{first.id}/fuzz",
                participant=member.id,
                bus=member.participant.bus,
                interval=first.id,
                side="buy",
                segments=({"energy_kwh": 1.5, "price_eur_per_kwh": 0.2},),
            ),
            10,
        )
        reading = Meter(member.meter_key, member.id).read(first.id, 1.2, 0.4)
        requests = [
            seal_bid(bid),
            seal(member.keypair, MessageType.HELLO, 11, {"agent": "fuzz"}),
            seal(
                member.keypair,
                MessageType.READING,
                12,
                {"reading": reading.model_dump(mode="json")},
            ),
            seal(member.keypair, MessageType.BIDS, 13, {"bids": [bid.model_dump(mode="json")]}),
            seal(member.keypair, MessageType.QUERY, 14, {"what": "block", "height": 1}),
            seal(member.keypair, MessageType.QUERY, 15, {"what": "status"}),
        ]
        block = self.service.ledger.block(1).model_dump(mode="json")
        event = canonical_bytes({"v": 1, "type": "block", "seq": 3, "body": block})
        sim = run_simulation(
            SimulationConfig(out=folder / "sim", households=2, minutes=60, overwrite=True)
        ).ledger_path
        self.ledger_bytes = sim.read_bytes()
        proof = proof_json(prove(sim, height=3, index=1)).encode()
        headers = headers_json(export_headers(sim)).encode()
        who = KeyPair.derive("seed", 7, "household", 0)
        sealed = seal_statement(statement_for(sim, who.public_hex)).model_dump_json().encode()
        key_path = folder / "seed.key"
        key_path.unlink(missing_ok=True)
        write_key_file(key_path, member.keypair)
        grid = scenario.grid.model_dump_json(by_alias=True).encode()
        book = json.dumps({"interval": first.id, "bids": [bid.model_dump(mode="json")]}).encode()
        (folder / "grid.json").write_bytes(grid)
        (folder / "book.json").write_bytes(book)
        registry = json.dumps(
            {
                "operator": scenario.operator.public_hex,
                "grid": json.loads(grid),
                "members": [
                    {"participant": m.participant.model_dump(mode="json"), "pv_kwp": m.pv_kwp}
                    for m in scenario.members
                ],
            }
        ).encode()
        operator_hex = self.service.key.public_hex
        bids = {bid.bid_id: bid.model_dump(mode="json")}
        self.all = [
            Target("request", requests, self._request),
            Target("envelope", requests, lambda d: parse_envelope(d).check_signature()),
            Target(
                "reply",
                [ack(3, {"height": 2}), reject(4, "replay", "old", last_seq=9)],
                decode_reply,
            ),
            Target("event", [event], parse_event),
            Target(
                "block",
                [json.dumps(block).encode()],
                lambda d: check_block(_object(d), operator_hex, None),
            ),
            Target(
                "trade",
                [
                    json.dumps(
                        {
                            "buyer": member.id,
                            "seller": "grid",
                            "buyer_bid_id": bid.bid_id,
                            "energy_kwh": 1.0,
                            "buyer_price_eur_per_kwh": 0.2,
                        }
                    ).encode()
                ],
                lambda d: _trade(d, member.id, bids),
            ),
            Target("grid-and-book", [book, grid], self._market_files),
            Target("registry", [registry], _file_target(folder, "registry.json", _registry)),
            Target(
                "key-file", [key_path.read_bytes()], _file_target(folder, "fuzz.key", read_key_file)
            ),
            Target("proof", [proof, headers], self._proof_files(proof, headers)),
            Target(
                "sealed-statement",
                [sealed],
                _file_target(
                    folder, "sealed.json", lambda p: open_statement(load_json(p, "statement"), who)
                ),
            ),
            Target(
                "agent-settings",
                [b'household = 2\nseed = 4\noperator = "tcp://x:1"\n'],
                _file_target(folder, "agent.toml", _agent_settings),
            ),
            Target(
                "ledger-file",
                [self.ledger_bytes],
                _file_target(folder, "fuzzed.sqlite", verify_ledger),
                runs=100,
            ),
        ]
        self._grid, self._book = grid, book

    def _request(self, data: bytes) -> object:
        reply = decode_reply(self.service.intake.handle(data, None))
        if reply.code == "internal-error":
            raise AssertionError("the intake failed on a request")  # a crash, not a refusal
        if not reply.ok:
            raise Refused(reply.message, code=reply.code)
        return reply

    def _market_files(self, data: bytes) -> object:
        book, grid = self.folder / "fuzz-book.json", self.folder / "fuzz-grid.json"
        book.write_bytes(data if data.lstrip()[:1] == b"{" and b"bids" in data else self._book)
        grid.write_bytes(data if book.read_bytes() != data else self._grid)
        return clear_files(book, grid)

    def _proof_files(self, proof: bytes, headers: bytes) -> Callable[[bytes], object]:
        proof_path, headers_path = self.folder / "fuzz-proof.json", self.folder / "fuzz-h.json"

        def run(data: bytes) -> object:
            as_proof = b'"audit_path"' in data
            proof_path.write_bytes(data if as_proof else proof)
            headers_path.write_bytes(headers if as_proof else data)
            return check_proof(
                load_json(proof_path, "proof"), load_json(headers_path, "headers file")
            )

        return run

    def close(self) -> None:
        self.service.close()


def _object(data: bytes) -> dict:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        raise InvalidInput("not JSON", code="malformed") from None
    if not isinstance(value, dict):
        raise InvalidInput("not an object", code="malformed")
    return value


def _trade(data: bytes, me: str, bids: dict) -> object:
    trade = _object(data)
    if me not in (trade.get("buyer"), trade.get("seller")):
        raise InvalidInput("not my trade", code="not-mine")
    return check_trade(trade, me, bids)


def _registry(path: Path) -> object:
    from voisin.market.registry import load_registry

    return load_registry(path)
