"""What an operator serves: the feeder, the registered participants, the fund account
and its own signing key; from the demo neighbourhood or from a registry file."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from voisin.errors import InvalidInput
from voisin.market.registry import Registry
from voisin.protocol import Grid, KeyPair, Participant

OPENING_ALLOWANCE_MICRO = 500 * 1_000_000
"""Tokens the fund gives each member when it registers."""
MIN_GENESIS_SUPPLY_MICRO = 1_000_000 * 1_000_000


def genesis_supply_micro(members: int, allowance_micro: int = OPENING_ALLOWANCE_MICRO) -> int:
    """The fund's genesis supply for a market of ``members``: a million tokens, or twice
    every member's opening allowance if that is more, so registering everyone never
    overdraws the fund (it did from 2,000 live or simulated households on)."""
    return max(MIN_GENESIS_SUPPLY_MICRO, 2 * members * allowance_micro)


class Neighbourhood(Protocol):
    """What the market needs of a demo scenario (``voisin.agents.Scenario`` is one)."""

    @property
    def grid(self) -> Grid: ...
    @property
    def participants(self) -> tuple[Participant, ...]: ...
    @property
    def fund(self) -> str: ...
    @property
    def operator(self) -> KeyPair | None: ...


@dataclass(frozen=True)
class Community:
    grid: Grid
    participants: tuple[Participant, ...]
    fund: str
    operator: KeyPair

    @classmethod
    def of(cls, scenario: Neighbourhood) -> Community:
        """The demo neighbourhood, whose operator key is derived from its seed."""
        if scenario.operator is None:
            raise InvalidInput("this scenario carries no operator key", code="no-operator-key")
        return cls(scenario.grid, scenario.participants, scenario.fund, scenario.operator)

    @classmethod
    def from_registry(cls, registry: Registry, operator: KeyPair) -> Community:
        """A registry's community, run with the operator key the registry names."""
        if registry.operator != operator.public_hex:
            raise InvalidInput(
                f"the registry names operator {registry.operator[:12]}, this "
                f"key is {operator.public_hex[:12]}",
                code="wrong-operator-key",
            )
        return cls(registry.grid, registry.participants, registry.fund, operator)
