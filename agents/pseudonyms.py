"""One-time keys: each member trades under a fresh key, and meters under a fresh meter
key, every day, linked to it only in a sealed record (docs/privacy.md).

The day's key signs the member's bids, the day's meter key signs its readings, both are
registered for that day alone (``valid_from``/``valid_until``), so the ledger re-clears,
settles and verifies exactly as with long-lived keys while an observer sees a new,
unrelated pseudonym per member and day. The link (member, member's meter, day key, day
meter key, day) is signed by the member and sealed to the member and to the operator,
the DSO who answers for the meters. Bid sequence numbers start again at 0 under each
key and bid ids are made from the day key, so neither carries the member over.

The keys are derived from the member's and its meter's seeds (simulation keys, like
``KeyPair.derive``); a real meter would derive its day keys from a secret of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol, Self, TypeVar

from voisin.agents.scenario import Member
from voisin.protocol import ClearingResult, Interval, KeyPair, Participant
from voisin.protocol.participants import PseudonymLink


class _Owned(Protocol):
    """A reading or a settlement: a pydantic model that names its participant."""

    @property
    def participant(self) -> str: ...
    def model_copy(
        self, *, update: Mapping[str, Any] | None = None, deep: bool = False
    ) -> Self: ...


M = TypeVar("M", bound=_Owned)


def day_of(interval_id: str) -> str:
    """The UTC day (``YYYY-MM-DD``) an interval id belongs to."""
    return interval_id[:10]


def _day_start(day: str) -> str:
    return f"{day}T00:00Z"


@dataclass(frozen=True)
class DayKey:
    """A member's keys for one day."""

    member: Member
    day: str
    key: KeyPair
    meter: KeyPair

    @property
    def id(self) -> str:
        return self.key.public_hex

    @property
    def valid_from(self) -> str:
        return _day_start(self.day)

    @property
    def valid_until(self) -> str:
        return _day_start((date.fromisoformat(self.day) + timedelta(days=1)).isoformat())

    def participant(self) -> Participant:
        """The member's registration under this day's keys."""
        return self.member.participant.model_copy(
            update={
                "participant_id": self.id,
                "meter_id": self.meter.public_hex,
                "valid_from": self.valid_from,
                "valid_until": self.valid_until,
            }
        )

    def link(self) -> PseudonymLink:
        return PseudonymLink(
            member=self.member.id,
            member_meter=self.member.meter_key.public_hex,
            pseudonym=self.id,
            meter=self.meter.public_hex,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
        ).signed_by(self.member.keypair)


class Pseudonyms:
    """Every member's day keys over the run's days, and the way back to members."""

    def __init__(self, members: Sequence[Member], intervals: Sequence[Interval]) -> None:
        self.days = sorted({day_of(iv.id) for iv in intervals})
        self._keys: dict[tuple[str, str], DayKey] = {}
        self._member_of: dict[str, str] = {}
        for m in members:
            for day in self.days:
                k = DayKey(
                    m,
                    day,
                    KeyPair.derive("pseudonym", m.keypair.seed_hex, day),
                    KeyPair.derive("pseudonym-meter", m.meter_key.seed_hex, day),
                )
                self._keys[m.id, day] = k
                self._member_of[k.id] = m.id
        self._members = members

    def key(self, member_id: str, interval_id: str) -> DayKey:
        return self._keys[member_id, day_of(interval_id)]

    def id_for(self, member_id: str, interval_id: str) -> str:
        """The key ``member_id`` trades under in ``interval_id`` (a non-member: itself)."""
        k = self._keys.get((member_id, day_of(interval_id)))
        return member_id if k is None else k.id

    def day(self, day: str) -> list[DayKey]:
        """The day's keys of every member (in scenario order: register them sorted)."""
        return [self._keys[m.id, day] for m in self._members]

    def member_of(self, participant: str) -> str:
        """The member a day key belongs to (the grid and unknown ids as they are)."""
        return self._member_of.get(participant, participant)

    def unmask_result(self, result: ClearingResult) -> ClearingResult:
        """A clearing result with members in place of their day keys (for the run's own
        totals, never for the ledger)."""
        trades = tuple(
            t.model_copy(
                update={"seller": self.member_of(t.seller), "buyer": self.member_of(t.buyer)}
            )
            for t in result.trades
        )
        curtailed = {self.member_of(k): v for k, v in result.curtailed_kwh.items()}
        return result.model_copy(update={"trades": trades, "curtailed_kwh": curtailed})

    def unmask(self, items: Iterable[M]) -> list[M]:
        """Readings or settlements with their member in place of the day key."""
        return [x.model_copy(update={"participant": self.member_of(x.participant)}) for x in items]

    def unmask_pairs(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        return {(self.member_of(a), self.member_of(b)) for a, b in pairs}
