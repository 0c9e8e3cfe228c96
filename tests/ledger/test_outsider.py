"""A verifier written from docs/ledger.md alone: it imports nothing from voisin.

It reads a `voisin simulate` ledger with sqlite3, encodes with the independent `rfc8785`
package, checks signatures with PyNaCl and recomputes, as the document describes them,
every block hash, link and signature, every leaf and Merkle root, every bid, reading and
contract signature, every bid digest, trade price, payment, settlement and reward, and
every balance and the supply. If this test breaks, the document or the code is wrong.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

Body = dict[str, Any]


def jcs(value: object) -> bytes:
    return rfc8785.dumps(value)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def tree_head(leaves: list[bytes]) -> bytes:
    """RFC 6962 over raw leaf data."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + tree_head(leaves[:k]) + tree_head(leaves[k:])).digest()


def signed(public: str, message: bytes, signature: str) -> bool:
    try:
        VerifyKey(bytes.fromhex(public)).verify(message, bytes.fromhex(signature))
    except (BadSignatureError, ValueError):
        return False
    return True


def without_signature(text: str, signature: str) -> bytes:
    """A bid's or reading's signed bytes: the last member, signature, cut off."""
    tail = ',"signature":"' + signature + '"}'
    assert text.endswith(tail)
    return (text[: -len(tail)] + "}").encode()


def rounded(x: float, places: int) -> float:
    return round(x, places) + 0.0


def micro(eur: float) -> int:
    return round(eur * 1000000)


class Outsider:
    def __init__(self) -> None:
        self.balances: dict[str, int] = defaultdict(int)
        self.genesis = self.minted = 0
        self.fund = ""
        self.members: dict[str, Body] = {}
        self.contracts: list[Body] = []  # registration order
        self.revoked: dict[str, str] = {}
        self.terms: Body = {}
        self.trades: dict[str, list[Body]] = {}
        self.seen = Counter()

    # -- tokens and contracts ----------------------------------------------------------

    def move(self, sender: str, recipient: str, amount: int) -> None:
        assert isinstance(amount, int)
        assert amount > 0
        assert sender != recipient
        assert sender != "genesis"
        assert self.balances[sender] >= amount, "overdraft"
        self.balances[sender] -= amount
        self.balances[recipient] += amount

    def contract(self, body: Body) -> None:
        terms = {k: v for k, v in body.items() if k != "signature"}
        assert signed(body["owner"], jcs(terms), body["signature"]), "contract signature"
        if body["template"] == "revoke":
            self.revoked[body["revokes"]] = body["from_interval"]
        else:
            self.contracts.append({**terms, "id": sha(jcs(terms))})

    def in_force(self, interval: str) -> dict[str, list[Body]]:
        owners: dict[str, list[Body]] = defaultdict(list)
        for c in self.contracts:
            ends = self.revoked.get(c["id"])
            if c["from_interval"] <= interval and (ends is None or interval < ends):
                owners[c["owner"]].append(c)
        return owners

    def active(self, pid: str, interval: str) -> bool:
        member = self.members[pid]
        return member.get("valid_from", interval) <= interval and interval < member.get(
            "valid_until", "~"
        )

    # -- the book as cleared -----------------------------------------------------------

    def shaped(self, bids: list[Body], interval: str) -> dict[str, Body]:
        """Bid id -> (participant, side, bus, green, preferred, discount, segment prices)."""
        force = self.in_force(interval)
        book: dict[str, Body] = {}
        for bid in bids:
            mine = force.get(bid["participant"], [])
            me, side = bid["participant"], bid["side"]
            partners = [
                c["partner"]
                for c in mine
                if c["template"] == "priority_partner" and c["partner"] != me
            ]
            preferred = bid["preferred"] + [
                p for p in dict.fromkeys(partners) if p not in bid["preferred"]
            ]
            prices = [s["price_eur_per_kwh"] for s in bid["segments"]]
            caps = [c["cap_eur_per_kwh"] for c in mine if c["template"] == "price_cap"]
            if side == "buy" and caps:
                prices = [min(p, min(caps)) for p in prices]
            green = bid.get("green_only", False) or (
                side == "buy" and any(c["template"] == "green_only" for c in mine)
            )
            kind = side + ("-inflexible" if bid.get("inflexible", False) else "")
            entry = {
                "participant": me,
                "side": side,
                "bus": bid["bus"],
                "green": green,
                "kind": kind,
                "preferred": preferred,
                "prices": prices,
                "discount": bid.get("preferred_discount_eur_per_kwh", 0.0),
            }
            left, n = 1.0, 0
            for c in mine:
                if (
                    side == "sell"
                    and c["template"] == "gift_share"
                    and c["recipient"] != me
                    and left > 0
                ):
                    share = min(c["share"], left)
                    left -= share
                    prefix = f"!gift{n}:"
                    base = (
                        bid["bid_id"]
                        if len(bid["bid_id"]) + len(prefix) <= 128
                        else sha(bid["bid_id"].encode())
                    )
                    book[prefix + base] = {
                        **entry,
                        "preferred": [c["recipient"]],
                        "prices": [0.0],
                        "discount": 0.0,
                    }
                    n += 1
            if n == 0 or max(0.0, left) > 1e-12:
                book[bid["bid_id"]] = entry
        return book

    def trade_prices(
        self, trade: Body, book: dict[str, Body], clearing: Body
    ) -> tuple[float, float]:
        prices, root = clearing["prices_eur_per_kwh"], self.terms["grid"]["root"]
        g = clearing["green_premium_eur_per_kwh"]
        s = book.get(trade["seller_bid_id"]) if trade["seller"] != "grid" else None
        b = book.get(trade["buyer_bid_id"]) if trade["buyer"] != "grid" else None
        assert s is not None or trade["seller"] == "grid"
        assert b is not None or trade["buyer"] == "grid"
        settle = clearing.get("settlement_prices_eur_per_kwh", {})

        def adjust(bid: Body) -> float:
            price = settle.get(bid["bus"], {}).get(bid["kind"])
            return 0.0 if price is None else rounded(price - prices[bid["bus"]], 9)

        w = self.terms["grid"].get("local_charge_eur_per_kwh", 0.0)  # local network charge
        buyer = prices[b["bus"]] + adjust(b) + (g if b["green"] else 0.0) if b else prices[root] - w
        seller = prices[s["bus"]] + adjust(s) + g - w if s else prices[root]
        if s and b and b["participant"] in s["preferred"]:
            discount = min(s["discount"], max(0.0, seller - max(s["prices"])))
            buyer -= discount
            seller -= discount
        return rounded(buyer, 9), rounded(seller, 9)

    # -- the blocks --------------------------------------------------------------------

    def block(self, interval: str | None, rows: list[tuple[str, str, Body]]) -> None:
        kinds = defaultdict(list)
        for kind, text, body in rows:
            kinds[kind].append((text, body))
            self.seen[kind] += 1
            if kind == "genesis":
                assert not self.genesis
                self.genesis, self.fund = body["amount_micro"], body["recipient"]
                self.balances[self.fund] += self.genesis
            elif kind == "registration":
                assert body["participant_id"] not in self.members
                assert set(body) - {"valid_from", "valid_until"} == {
                    "participant_id",
                    "bus",
                    "tariff",
                    "meter_id",
                }, "a registration shows only key, bus, tariff, meter and validity"
                self.members[body["participant_id"]] = body
            elif kind == "contract":
                self.contract(body)
            elif kind == "market":
                self.terms = body
            elif kind == "transfer":
                self.move(body["sender"], body["recipient"], body["amount_micro"])
            elif kind == "reward":
                self.balances[body["recipient"]] += body["amount_micro"]
                self.minted += body["amount_micro"]
        if "clearing" in kinds:
            self.clearing(interval, kinds)
        if "settlement" in kinds:
            self.settlement(interval, kinds)
        assert all(v >= 0 for v in self.balances.values())
        assert sum(self.balances.values()) == self.genesis + self.minted

    def clearing(self, interval: str | None, kinds: dict[str, list[tuple[str, Body]]]) -> None:
        ((_, clearing),) = kinds["clearing"]
        ((_, digest),) = kinds["bid_digest"]
        bids = [b for _, b in kinds["bid"]]
        assert interval is not None
        assert clearing["interval"] == interval
        assert interval not in self.trades
        assert [b["bid_id"] for b in bids] == sorted(b["bid_id"] for b in bids)
        for text, bid in kinds["bid"]:
            member = self.members[bid["participant"]]
            assert self.active(bid["participant"], interval)
            assert bid["interval"] == interval
            assert member["bus"] == bid["bus"]
            assert signed(
                bid["participant"], without_signature(text, bid["signature"]), bid["signature"]
            ), "bid signature"
        energy = {b["bid_id"]: sum(s["energy_kwh"] for s in b["segments"]) for b in bids}
        assert digest == {
            "interval": interval,
            "bid_count": len(bids),
            "buy_kwh": sum(energy[b["bid_id"]] for b in bids if b["side"] == "buy"),
            "sell_kwh": sum(energy[b["bid_id"]] for b in bids if b["side"] == "sell"),
            "bids_root": tree_head([t.encode() for t, _ in kinds["bid"]]).hex(),
        }
        assert clearing["market_hash"] == sha(jcs(self.terms))
        assert clearing["grid_hash"] == sha(jcs(self.terms["grid"]))
        trades = [b for _, b in kinds.get("trade", [])]
        assert clearing["trade_count"] == len(trades)
        for bus, parts in clearing.get("price_parts_eur_per_kwh", {}).items():
            assert abs(sum(parts.values()) - clearing["prices_eur_per_kwh"][bus]) <= 1e-9
        book = self.shaped(bids, interval)
        for trade in trades:
            assert (trade["buyer_price_eur_per_kwh"], trade["seller_price_eur_per_kwh"]) == (
                self.trade_prices(trade, book, clearing)
            ), "trade price"
        gifts = {
            (c["owner"], c["recipient"])
            for owned in self.in_force(interval).values()
            for c in owned
            if c["template"] == "gift_share"
        }
        owed = []
        for t in trades:
            if t["kind"] != "p2p" or (
                t["seller_bid_id"].startswith("!gift") and (t["seller"], t["buyer"]) in gifts
            ):
                continue
            received = micro(t["energy_kwh"] * t["seller_price_eur_per_kwh"])
            rent = micro(t["energy_kwh"] * t["buyer_price_eur_per_kwh"]) - received
            if received:
                owed.append(
                    (t["buyer"], t["seller"], received)
                    if received > 0
                    else (t["seller"], t["buyer"], -received)
                )
                owed[-1] += (f"trade {interval}",)
            if rent > 0:
                owed.append((t["buyer"], self.fund, rent, f"congestion rent {interval}"))
        paid = [
            (b["sender"], b["recipient"], b["amount_micro"], b["memo"])
            for _, b in kinds.get("transfer", [])
            if b["memo"].startswith(("trade ", "congestion rent "))
        ]
        assert Counter(paid) == Counter(owed), "payments"
        self.trades[interval] = trades

    def settlement(self, interval: str | None, kinds: dict[str, list[tuple[str, Body]]]) -> None:
        assert interval is not None
        trades = self.trades.pop(interval)
        readings: dict[str, Body] = {}
        for text, r in kinds.get("reading", []):
            assert r["interval"] == interval
            assert r["participant"] not in readings
            assert self.members[r["participant"]]["meter_id"] == r["meter"]
            assert self.active(r["participant"], interval)
            assert set(r) == {
                "meter",
                "participant",
                "interval",
                "import_kwh",
                "export_kwh",
                "renewable_export_kwh",
                "estimated",
                "reading_hash",
                "signature",
            }, "a public reading shows no load, PV or battery"
            assert r["renewable_export_kwh"] <= r["export_kwh"]
            assert signed(r["meter"], without_signature(text, r["signature"]), r["signature"]), (
                "meter signature"
            )
            readings[r["participant"]] = r
        net: dict[str, float] = defaultdict(float)
        sold: dict[str, float] = defaultdict(float)
        for t in trades:
            net[t["seller"]] += t["energy_kwh"]
            net[t["buyer"]] -= t["energy_kwh"]
            if t["kind"] == "p2p":
                sold[t["seller"]] += t["energy_kwh"]
        expected = []
        for pid in sorted(p for p in self.members if self.active(p, interval)):
            tariff = self.members[pid]["tariff"]
            traded = rounded(net.get(pid, 0.0), 9)
            r = readings.get(pid)
            metered = traded if r is None else rounded(r["export_kwh"] - r["import_kwh"], 9)
            imbalance = rounded(metered - traded, 9)
            price = tariff["export_eur_per_kwh"] if imbalance > 0 else tariff["import_eur_per_kwh"]
            expected.append(
                {
                    "participant": pid,
                    "interval": interval,
                    "traded_net_kwh": traded,
                    "metered_net_kwh": metered,
                    "imbalance_kwh": imbalance,
                    "imbalance_eur": rounded(imbalance * price, 6),
                    "estimated": r is None or r["estimated"],
                }
            )
        assert [t for t, _ in kinds["settlement"]] == [jcs(e).decode() for e in expected]
        # Rewards: what both meters prove of each p2p trade, summed per seller.
        proof = {p: r for p, r in readings.items() if not r["estimated"]}
        p2p = [t for t in trades if t["kind"] == "p2p"]
        bought: dict[str, float] = defaultdict(float)
        for t in p2p:
            bought[t["buyer"]] += t["energy_kwh"]

        def share(proven: float, traded: float) -> float:
            return 1.0 if proven >= traded else proven / traded

        out_share = {p: share(r["renewable_export_kwh"], sold[p]) for p, r in proof.items()}
        in_share = {p: share(r["import_kwh"], bought[p]) for p, r in proof.items()}
        proven_by: dict[str, float] = defaultdict(float)
        for t in p2p:
            proven_by[t["seller"]] += (
                t["energy_kwh"] * out_share.get(t["seller"], 0.0) * in_share.get(t["buyer"], 0.0)
            )
        rewards = []
        for seller in sorted(proven_by):
            proven = rounded(proven_by[seller], 9)
            if round(proven * 10000) > 0:
                rewards.append(
                    {
                        "recipient": seller,
                        "amount_micro": round(proven * 10000),
                        "energy_kwh": proven,
                        "interval": interval,
                    }
                )
        assert [t for t, _ in kinds.get("reward", [])] == [jcs(e).decode() for e in rewards]


def check(path: Path) -> Outsider:
    """Walk the file as docs/ledger.md says; an AssertionError names what failed."""
    db = sqlite3.connect(path)
    try:
        txs: dict[int, list[tuple[int, str, str, str]]] = defaultdict(list)
        for row in db.execute(
            "SELECT height, idx, kind, body, leaf_hash FROM transactions ORDER BY height, idx"
        ):
            txs[row[0]].append(row[1:])
        outsider, prev, operator = Outsider(), "0" * 64, ""
        for height, block_hash, text, signature in db.execute(
            "SELECT height, hash, header, signature FROM blocks ORDER BY height"
        ):
            header = json.loads(text)
            assert jcs(header).decode() == text
            assert sha(text.encode()) == block_hash
            assert header["height"] == height
            assert header["prev_hash"] == prev
            operator = operator or header["operator"]
            assert header["operator"] == operator
            assert signed(operator, text.encode(), signature), f"block {height} signature"
            rows, leaves = [], []
            for n, (idx, kind, body, leaf_hex) in enumerate(txs[height]):
                data = json.loads(body)
                assert idx == n
                assert jcs(data).decode() == body, f"block {height} body {idx}"
                leaf = b'{"body":' + body.encode() + b',"kind":"' + kind.encode() + b'"}'
                assert leaf == jcs({"kind": kind, "body": data})
                assert sha(b"\x00" + leaf) == leaf_hex, f"block {height} leaf {idx}"
                leaves.append(leaf)
                rows.append((kind, body, data))
            assert header["tx_count"] == len(rows)
            assert tree_head(leaves).hex() == header["merkle_root"]
            outsider.block(header["interval"], rows)
            prev = block_hash
    finally:
        db.close()
    return outsider


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("outsider")
    scenario = out / "scenario.toml"  # French network charges: the trade-price wedge too
    scenario.write_text('[network]\npreset = "fr-acc"\n')
    subprocess.run(
        [
            sys.executable,
            "-m",
            "voisin.cli.main",
            "simulate",
            "--scenario",
            str(scenario),
            "--households",
            "8",
            "--minutes",
            "60",
            "--out",
            str(out),
            "--quiet",
            "--no-grid-check",  # the outsider recomputes the ledger, not the AC check
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return out / "ledger.sqlite"


@pytest.mark.slow
def test_an_outsider_recomputes_a_simulated_day(ledger: Path) -> None:
    seen = check(ledger)
    assert seen.seen["clearing"] == seen.seen["bid_digest"] == 24
    assert seen.seen["settlement"] == 24 * len(seen.members)
    assert seen.seen["bid"] > 0
    assert seen.seen["reading"] > 0
    assert seen.seen["reward"] > 0  # a sunny June day: proven local supply
    assert seen.seen["contract"] == 1  # the default gift share, applied to the trades
    assert not seen.trades  # every cleared interval settled
    assert seen.minted > 0


def test_the_outsider_notices_a_changed_settlement(ledger: Path, tmp_path: Path) -> None:
    copy = tmp_path / "edited.sqlite"
    shutil.copyfile(ledger, copy)
    db = sqlite3.connect(copy)
    height, idx, body = db.execute(
        "SELECT height, idx, body FROM transactions WHERE kind = 'settlement' LIMIT 1"
    ).fetchone()
    edited = json.loads(body)
    edited["imbalance_eur"] = round(edited["imbalance_eur"] + 0.01, 6)
    db.execute(
        "UPDATE transactions SET body = ? WHERE height = ? AND idx = ?",
        (jcs(edited).decode(), height, idx),
    )
    db.commit()
    db.close()
    with pytest.raises(AssertionError, match=f"block {height} leaf {idx}"):
        check(copy)
