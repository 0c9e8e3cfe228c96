"""What leaves the operator sealed: whole meter readings and pseudonym links.

The ledger shows a reading's public form only (``PublicReading``) and commits to the
whole reading by ``reading_hash``; the whole reading (load, PV, battery, registers,
nonce) is sealed to its member's key. A one-time key's link to its member (who it is,
its day, its meter's day key) is sealed to the member and to the operator, who as the
DSO answers for the meters. The boxes travel in a JSON-lines file beside the ledger,
never inside it: a sealed box is randomised, and the ledger must stay byte-identical
from run to run. A record names in clear only what the ledger shows already (the
pseudonym, the interval, the hash), so the file can be handed out whole; docs/privacy.md.
Each kind is padded to one size before it is sealed (``SEALED_BYTES``), so every box of
a kind is as long as every other.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from voisin.errors import InvalidInput
from voisin.protocol import KeyPair, MeterReading, canonical_bytes, parse, verify
from voisin.protocol.participants import PseudonymLink
from voisin.protocol.sealing import PADDED_VERSION, open_sealed_json, seal_to
from voisin.protocol.signed import Signed

SEALED_FILE = "sealed.jsonl"
"""The sealed file's name, beside the ledger file."""

SEALED_BYTES = {"reading": 800, "link": 576}
"""What each kind's plaintext is padded to before it is sealed (``seal_to``), so that
its box is 48 bytes more whatever it holds. The longest valid reading is 768 bytes
(every number at the 25 characters RFC 8785 writes at most, both registers, a nonce of
128 hex digits, 64-digit keys, an interval id); a link is 523 (keys, interval ids and
signature are each of one length). ``tests/ledger/test_sealed.py`` builds both."""


class SealedRecord(BaseModel):
    """One line of the sealed file. ``reading``: a whole reading, sealed to its member;
    ``participant``, ``interval`` and ``reading_hash`` find its public form on the
    ledger. ``link``: a ``PseudonymLink``, sealed to the member or to the operator, with
    nothing in clear."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    version: Literal[1, 2] = PADDED_VERSION
    kind: Literal["reading", "link"]
    participant: str = ""
    interval: str = ""
    reading_hash: str = ""
    sealed: str


class SealedStore:
    """Appends sealed records to a JSON-lines file; ``owners`` maps a one-time key to
    the member whose key its readings are sealed to (itself when it is no pseudonym)."""

    def __init__(self, path: Path, operator: str) -> None:
        self.path = path
        self.operator = operator
        self.owners: dict[str, str] = {}

    def _write(self, records: Iterable[SealedRecord]) -> None:
        with self.path.open("a", encoding="utf-8") as out:
            for record in records:
                out.write(record.model_dump_json() + "\n")

    def add_links(self, links: Iterable[PseudonymLink]) -> None:
        """Record one-time keys: each link sealed to its member and to the operator."""
        records = []
        for link in links:
            self.owners[link.pseudonym] = link.member
            data = link.model_dump_json().encode("utf-8")
            records += [
                SealedRecord(kind="link", sealed=_seal(to, data, "link"))
                for to in (link.member, self.operator)
            ]
        self._write(records)

    def add_readings(
        self, readings: Sequence[Signed[MeterReading]], hashes: Sequence[str] | None = None
    ) -> None:
        """Seal each whole reading, as its meter sent it, to its member. ``hashes`` are
        their ``reading_hash``es when the caller has them (made at intake)."""
        commitments = hashes if hashes is not None else [r.value.commitment() for r in readings]
        self._write(
            [  # all sealed before any is written: a refused one leaves no half a batch
                SealedRecord(
                    kind="reading",
                    participant=r.value.participant,
                    interval=r.value.interval,
                    reading_hash=reading_hash,
                    sealed=_seal(
                        self.owners.get(r.value.participant, r.value.participant),
                        r.data,
                        "reading",
                    ),
                )
                for r, reading_hash in zip(readings, commitments, strict=True)
            ]
        )


def _seal(recipient: str, data: bytes, kind: Literal["reading", "link"]) -> str:
    return seal_to(recipient, data, padded_to=SEALED_BYTES[kind], what=kind)


def _open(record: SealedRecord, key: KeyPair) -> Any:
    """``record``'s box opened with ``key`` (its padding stripped unless it was sealed
    before padding), as JSON; None when it is sealed to another key. A box that opens
    but is not padded raises: it is ``key``'s, damaged, not someone else's."""
    try:
        return open_sealed_json(
            record.sealed, key, record.kind, padded=record.version >= PADDED_VERSION
        )
    except InvalidInput as refused:
        if refused.code == "wrong-key":
            return None
        raise


def records(path: Path) -> Iterator[SealedRecord]:
    """The sealed file's records, in order; ``InvalidInput`` for a damaged line."""
    if not path.is_file():
        raise InvalidInput(f"no sealed file at {path}", code="no-sealed-file")
    with path.open(encoding="utf-8") as lines:
        for n, line in enumerate(lines, 1):
            try:
                yield parse(SealedRecord, json.loads(line), f"sealed record {n}")
            except ValueError:
                raise InvalidInput(f"{path}:{n} is not JSON", code="bad-sealed-file") from None


def open_links(path: Path, key: KeyPair) -> list[PseudonymLink]:
    """Every link sealed to ``key`` (a member's or the operator's), its signature checked."""
    found = []
    for record in records(path):
        if record.kind != "link":
            continue
        data = _open(record, key)
        if data is None:
            continue  # sealed to someone else
        link = parse(PseudonymLink, data, "pseudonym link")
        if not link.verifies():
            raise InvalidInput(
                f"the link of {link.pseudonym[:16]}... is not signed by its member",
                code="bad-link",
            )
        found.append(link)
    return found


def open_readings(path: Path, key: KeyPair) -> list[MeterReading]:
    """Every whole reading sealed to ``key``, each checked against its own record: its
    hash is the record's ``reading_hash`` (compare that with the ledger:
    ``voisin.ledger.opened.check_readings``)."""
    found = []
    for record in records(path):
        if record.kind != "reading":
            continue
        data = _open(record, key)
        if data is None:
            continue
        reading = parse(MeterReading, data, "sealed reading")
        if reading.commitment() != record.reading_hash:
            raise InvalidInput(
                f"the sealed reading of {record.interval} does not hash to its record",
                code="bad-sealed-reading",
            )
        found.append(reading)
    return found


def check_against_ledger(ledger: str | Path, readings: Iterable[MeterReading]) -> int:
    """Each whole reading's public form is, byte for byte, the reading the ledger
    stores for its key and interval, and its meter's signature verifies; returns how
    many were checked, or raises ``InvalidInput`` (``reading-mismatch``) naming the first
    that is not."""
    from voisin.ledger.store import open_store

    wanted = {(r.participant, r.interval): r for r in readings}
    stored: dict[tuple[str, str], str] = {}
    with open_store(ledger, read_only=True) as store:
        for _, _, kind, body, _ in store.raw_transactions():
            if kind == "reading":
                data = json.loads(body)
                if (data["participant"], data["interval"]) in wanted:
                    stored[data["participant"], data["interval"]] = body
    for (who, interval), reading in sorted(wanted.items()):
        found = stored.get((who, interval))
        if found is None or canonical_bytes(reading.public()).decode("utf-8") != found:
            why = "is not on the ledger" if found is None else "differs from the ledger's"
            raise InvalidInput(
                f"the reading of {who[:16]}... in {interval} {why}", code="reading-mismatch"
            )
        if not verify(reading.meter, reading.signed_bytes(), reading.signature):
            raise InvalidInput(
                f"the reading of {who[:16]}... in {interval}: the meter's signature does "
                "not verify",
                code="reading-mismatch",
            )
    return len(wanted)
