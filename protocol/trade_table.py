"""A trade, and ``TradeTable``: a clearing's trades as columns, a ``Trade`` where one is read.

A gate of a million bids makes about half a million trades. As pydantic ``Trade``
objects they cost about 1.2 KB each and most of the trade split's time, though the
operator only encodes them, pays for them and keeps them for settlement
(docs/performance.md, close_gate). The table keeps each field as a column: the
participant and bid id strings are the bids' own (shared, not copied), the energies
and prices float arrays. It is a ``Sequence[Trade]``: iterating or indexing it builds
``Trade`` objects on demand (the public API, files, the small-book path's own objects
kept as they are), while the ledger's bulk encoders read the columns
(``TradeTable.of`` gives any sequence of trades those columns).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, overload

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, GetCoreSchemaHandler
from pydantic_core import core_schema


class TradeKind(StrEnum):
    P2P = "p2p"
    GRID = "grid"


class Trade(BaseModel):
    """Energy from ``seller`` to ``buyer`` in one interval; one side may be ``GRID``.

    The buyer pays ``buyer_price_eur_per_kwh`` and the seller receives
    ``seller_price_eur_per_kwh``; the two differ when the trade crosses a congested
    line (the gap is congestion rent). The bid ids (empty on the grid side) tie each
    trade to the bids it fills, so the ledger alone shows a bid's cleared energy.
    """

    model_config = ConfigDict(frozen=True)

    interval: str
    seller: str
    buyer: str
    energy_kwh: float = Field(gt=0)
    buyer_price_eur_per_kwh: float
    seller_price_eur_per_kwh: float
    kind: TradeKind
    buyer_bid_id: str = ""
    seller_bid_id: str = ""

    @property
    def paid_eur(self) -> float:
        return self.energy_kwh * self.buyer_price_eur_per_kwh

    @property
    def received_eur(self) -> float:
        return self.energy_kwh * self.seller_price_eur_per_kwh


@dataclass(frozen=True, eq=False)
class TradeTable(Sequence[Trade]):
    """Trades ``k = 0 .. n-1`` as columns, in the clearing's order (units in the names).

    ``objects``, when the table was made from ``Trade`` objects, are those objects,
    returned as they are; otherwise each ``Trade`` is built when it is read."""

    interval: tuple[str, ...]
    seller: tuple[str, ...]
    buyer: tuple[str, ...]
    energy_kwh: np.ndarray
    buyer_price_eur_per_kwh: np.ndarray
    seller_price_eur_per_kwh: np.ndarray
    kind: tuple[TradeKind, ...]
    buyer_bid_id: tuple[str, ...]
    seller_bid_id: tuple[str, ...]
    objects: tuple[Trade, ...] | None = None

    @classmethod
    def of(cls, trades: Iterable[Trade]) -> TradeTable:
        """``trades`` as a table: itself if it is one, else the columns of the objects."""
        if isinstance(trades, TradeTable):
            return trades
        objects = tuple(trades)

        def floats(name: str) -> np.ndarray:
            return np.array([getattr(t, name) for t in objects], dtype=float)

        return cls(
            tuple(t.interval for t in objects),
            tuple(t.seller for t in objects),
            tuple(t.buyer for t in objects),
            floats("energy_kwh"),
            floats("buyer_price_eur_per_kwh"),
            floats("seller_price_eur_per_kwh"),
            tuple(t.kind for t in objects),
            tuple(t.buyer_bid_id for t in objects),
            tuple(t.seller_bid_id for t in objects),
            objects,
        )

    @classmethod
    def concat(cls, tables: Sequence[TradeTable]) -> TradeTable:
        """The trades of ``tables``, one after the other."""
        if len(tables) == 1:
            return tables[0]
        if not tables:
            return cls.of(())

        def joined(name: str) -> tuple[Any, ...]:
            return tuple(x for t in tables for x in getattr(t, name))

        def floats(name: str) -> np.ndarray:
            return np.concatenate([getattr(t, name) for t in tables]).astype(float)

        objects = [t.objects for t in tables]
        return cls(
            joined("interval"),
            joined("seller"),
            joined("buyer"),
            floats("energy_kwh"),
            floats("buyer_price_eur_per_kwh"),
            floats("seller_price_eur_per_kwh"),
            joined("kind"),
            joined("buyer_bid_id"),
            joined("seller_bid_id"),
            None if any(o is None for o in objects) else joined("objects"),
        )

    def where(self, keep: Sequence[bool]) -> TradeTable:
        """The trades whose ``keep`` is true, in order."""
        index = np.flatnonzero(np.asarray(keep, dtype=bool))
        picked = index.tolist()

        def strings(column: tuple[Any, ...]) -> tuple[Any, ...]:
            return tuple(column[i] for i in picked)

        return TradeTable(
            strings(self.interval),
            strings(self.seller),
            strings(self.buyer),
            self.energy_kwh[index],
            self.buyer_price_eur_per_kwh[index],
            self.seller_price_eur_per_kwh[index],
            strings(self.kind),
            strings(self.buyer_bid_id),
            strings(self.seller_bid_id),
            None if self.objects is None else strings(self.objects),
        )

    def paid_eur(self) -> np.ndarray:
        """What each buyer pays (``Trade.paid_eur``, the same products)."""
        paid: np.ndarray = self.energy_kwh * self.buyer_price_eur_per_kwh
        return paid

    def received_eur(self) -> np.ndarray:
        """What each seller receives (``Trade.received_eur``)."""
        received: np.ndarray = self.energy_kwh * self.seller_price_eur_per_kwh
        return received

    def __len__(self) -> int:
        return len(self.seller)

    def _trade(self, k: int) -> Trade:
        return Trade.model_construct(  # every column was a Trade's field or built as one
            interval=self.interval[k],
            seller=self.seller[k],
            buyer=self.buyer[k],
            energy_kwh=float(self.energy_kwh[k]),
            buyer_price_eur_per_kwh=float(self.buyer_price_eur_per_kwh[k]),
            seller_price_eur_per_kwh=float(self.seller_price_eur_per_kwh[k]),
            kind=self.kind[k],
            buyer_bid_id=self.buyer_bid_id[k],
            seller_bid_id=self.seller_bid_id[k],
        )

    @overload
    def __getitem__(self, index: int) -> Trade: ...
    @overload
    def __getitem__(self, index: slice) -> TradeTable: ...
    def __getitem__(self, index: int | slice) -> Trade | TradeTable:
        if isinstance(index, slice):
            keep = np.zeros(len(self), dtype=bool)
            keep[index] = True
            return self.where(keep.tolist())
        if self.objects is not None:
            return self.objects[index]
        k = range(len(self))[index]  # negative indices, IndexError
        return self._trade(k)

    def __iter__(self) -> Iterator[Trade]:
        if self.objects is not None:
            return iter(self.objects)
        return (self._trade(k) for k in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str | bytes):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other, strict=True))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"TradeTable({len(self)} trades)"

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        """A model field of this type takes a table as it is, or any trades (objects,
        dicts, JSON) validated as ``tuple[Trade, ...]``; it is written as that tuple."""
        objects = handler.generate_schema(tuple[Trade, ...])
        validated = core_schema.no_info_after_validator_function(cls.of, objects)
        return core_schema.json_or_python_schema(
            json_schema=validated,
            python_schema=core_schema.union_schema(
                [core_schema.is_instance_schema(cls), validated], mode="left_to_right"
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                tuple, return_schema=objects
            ),
        )
