"""A lying operator's tool: edit stored transactions, then re-sign the chain from there.

Every edited block gets fresh leaf hashes, Merkle root, count, header and signature, and
every later block a fresh ``prev_hash`` and signature, all with ``key``, so hashes,
links and signatures verify: only the arithmetic can give the lie away. With an
outsider's ``key`` and ``from_height=0`` it forges a whole chain in someone else's name.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from voisin.ledger.tokens import payment_rows
from voisin.protocol import KeyPair, canonical_bytes, canonical_text, sha256_hex
from voisin.protocol.blocks import tx_leaf_hash
from voisin.protocol.merkle import root_from_hashes

Body = dict[str, Any]
Rows = list[tuple[str, Body]]
"""One block's transactions as (kind, body)."""
Edit = Callable[[int, Rows], Rows]
"""Given a block's height and rows, the rows the forger stores instead."""


def copy_ledger(source: Path, target: Path) -> Path:
    """A copy of a closed ledger file (its WAL is folded in on close)."""
    shutil.copyfile(source, target)
    return target


def blocks(path: Path) -> list[tuple[dict[str, Any], Rows]]:
    """Every block as (header, rows), decoded."""
    db = sqlite3.connect(path)
    try:
        headers = [
            json.loads(h) for (h,) in db.execute("SELECT header FROM blocks ORDER BY height")
        ]
        rows: dict[int, Rows] = {h["height"]: [] for h in headers}
        for height, kind, body in db.execute(
            "SELECT height, kind, body FROM transactions ORDER BY height, idx"
        ):
            rows[height].append((kind, json.loads(body)))
    finally:
        db.close()
    return [(h, rows[h["height"]]) for h in headers]


def resign(
    path: Path,
    key: KeyPair,
    edit: Edit,
    *,
    from_height: int | None = None,
    spelled: dict[tuple[int, int], Callable[[str], str]] | None = None,
) -> None:
    """Apply ``edit`` to every block, then re-sign from the first changed block (or
    ``from_height``) to the head with ``key``, in place. ``spelled`` stores the
    transaction at (height, index) as its function makes of the canonical text (another
    spelling of the same value, say), hashed as stored."""
    spell = spelled or {}
    chain = blocks(path)
    edited = [
        (header, edit(header["height"], [(k, dict(b)) for k, b in rows])) for header, rows in chain
    ]
    changed = [
        h["height"]
        for (h, new), (_, old) in zip(edited, chain, strict=True)
        if [(k, canonical_text(b)) for k, b in new] != [(k, canonical_text(b)) for k, b in old]
    ]
    changed += [height for height, _ in spell]
    start = min(changed, default=len(chain)) if from_height is None else from_height
    db = sqlite3.connect(path)
    try:
        prev = (
            json.loads(
                db.execute("SELECT header FROM blocks WHERE height = ?", (start - 1,)).fetchone()[0]
            )
            if start
            else None
        )
        prev_hash = sha256_hex(canonical_bytes(prev)) if prev else "0" * 64
        for header, rows in edited[start:]:
            height = header["height"]
            texts = [
                spell.get((height, i), lambda text: text)(canonical_text(b))
                for i, (_, b) in enumerate(rows)
            ]
            leaves = [tx_leaf_hash(k, t.encode()) for (k, _), t in zip(rows, texts, strict=True)]
            header = {
                **header,
                "prev_hash": prev_hash,
                "operator": key.public_hex,
                "merkle_root": root_from_hashes(leaves).hex(),
                "tx_count": len(rows),
            }
            data = canonical_bytes(header)
            prev_hash = sha256_hex(data)
            db.execute(
                "UPDATE blocks SET hash = ?, header = ?, signature = ? WHERE height = ?",
                (prev_hash, data.decode(), key.sign(data), height),
            )
            db.execute("DELETE FROM transactions WHERE height = ?", (height,))
            db.executemany(
                "INSERT INTO transactions VALUES (?, ?, ?, ?, ?)",
                [
                    (height, i, k, text, leaf.hex())
                    for i, ((k, _), text, leaf) in enumerate(zip(rows, texts, leaves, strict=True))
                ],
            )
        db.commit()
    finally:
        db.close()


def first(path: Path, kind: str, where: Callable[[Body], bool] = lambda b: True) -> tuple[int, int]:
    """(height, index) of the first transaction of ``kind`` whose body passes ``where``."""
    for header, rows in blocks(path):
        for index, (k, body) in enumerate(rows):
            if k == kind and where(body):
                return header["height"], index
    raise LookupError(f"no {kind} transaction matches")


def at(height: int, index: int, change: Callable[[Body], Body | None]) -> Edit:
    """An edit of one transaction; ``change`` returning None deletes it."""

    def edit(h: int, rows: Rows) -> Rows:
        if h != height:
            return rows
        out = rows[:index]
        new = change(rows[index][1])
        if new is not None:
            out.append((rows[index][0], new))
        return out + rows[index + 1 :]

    return edit


def both(*edits: Edit) -> Edit:
    def edit(h: int, rows: Rows) -> Rows:
        for e in edits:
            rows = e(h, rows)
        return rows

    return edit


def _payments(trade: dict[str, Any], fund: str) -> list[tuple[str, dict[str, Any]]]:
    if trade["kind"] != "p2p" or trade["seller_bid_id"].startswith("!gift"):
        return []  # grid legs move no tokens; a gift (to its recipient) neither
    kwh = trade["energy_kwh"]
    return [
        ("transfer", {"sender": s, "recipient": r, "amount_micro": a, "memo": m})
        for s, r, a, m in payment_rows(
            trade["seller"],
            trade["buyer"],
            trade["interval"],
            kwh * trade["seller_price_eur_per_kwh"],
            kwh * trade["buyer_price_eur_per_kwh"],
            fund,
        )
    ]


def repaid(account: str, height: int, change: Any) -> Edit:
    """Change the block's trades and rewrite each changed trade's payments to match, as
    a careful liar would (so the payment trace alone cannot object)."""

    def edit(h: int, rows: Rows) -> Rows:
        if h != height:
            return rows
        out: Rows = []
        stale: list[tuple[str, dict[str, Any]]] = []
        fresh: list[tuple[str, dict[str, Any]]] = []
        for kind, body in rows:
            new = change(body) if kind == "trade" else body
            if new != body:
                stale += _payments(body, account)
                fresh += _payments(new, account)
            out.append((kind, new))
        for row in stale:
            out.remove(row)
        return out + fresh

    return edit


def fund(path: Path) -> str:
    """The fund account genesis credited."""
    return next(b["recipient"] for _, rows in blocks(path) for k, b in rows if k == "genesis")


def shift_prices(path: Path, height: int, index: int, by: float = 0.01) -> Edit:
    """A lie verify cannot refute alone: every price of one clearing (bus prices, their
    energy part, settlement prices) moved by ``by``, and its trades and payments with it
    (used by the audit's tests too)."""

    def up(prices: dict[str, float]) -> dict[str, float]:
        return {k: round(v + by, 9) for k, v in prices.items()}

    return both(
        at(
            height,
            index,
            lambda b: {
                **b,
                "prices_eur_per_kwh": up(b["prices_eur_per_kwh"]),
                "price_parts_eur_per_kwh": {
                    bus: {**parts, "energy": round(parts["energy"] + by, 9)}
                    for bus, parts in b["price_parts_eur_per_kwh"].items()
                },
                **{  # absent where every premium is 0
                    key: {bus: up(kinds) for bus, kinds in b[key].items()}
                    for key in ("settlement_prices_eur_per_kwh",)
                    if key in b
                },
            },
        ),
        repaid(
            fund(path),
            height,
            lambda b: {
                **b,
                **{
                    k: round(b[k] + by, 9)
                    for k in ("buyer_price_eur_per_kwh", "seller_price_eur_per_kwh")
                },
            },
        ),
    )
