"""The market's terms as the ledger records them: what re-clearing needs beside the book.

A ``market`` transaction holds the grid model (its file form, the same bytes
``grid_hash`` covers), the market rules (limits, curtailment and shedding prices, loss
passes, voltage margin), the interval length the physics runs at, the pricing mode,
the clearing backend, the solver names, versions and options of both backends and the
book size from which ``auto`` picks the matrix path. The operator writes it whenever it
changes; each ``clearing`` names it by ``market_hash``, so an auditor reads back exactly
the terms the interval was cleared under (``Terms.from_body``) and re-clears with them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

from voisin.errors import InvalidInput
from voisin.market.clearing import MATRIX_BACKEND_SEGMENTS, Backend
from voisin.market.gate import MarketRules
from voisin.market.lp_highs import HIGHS_OPTIONS
from voisin.market.solver_info import SOLVER_OPTIONS, direct_solver_version, solver_version
from voisin.protocol import Grid, PricingMode, parse

TERMS_VERSION = 1


def market_terms(
    grid: Grid,
    rules: MarketRules,
    *,
    minutes: int = 15,
    pricing: PricingMode = PricingMode.NODAL,
    backend: Backend = "auto",
) -> dict[str, Any]:
    """The body of a ``market`` transaction for these terms."""
    return {
        "version": TERMS_VERSION,
        "grid": grid.model_dump(mode="json", by_alias=True),
        "rules": asdict(rules),
        "minutes": minutes,
        "pricing": PricingMode(pricing).value,
        "backend": backend,
        "matrix_backend_segments": MATRIX_BACKEND_SEGMENTS,
        "solvers": {
            "pyomo": {"version": solver_version(), "options": dict(SOLVER_OPTIONS)},
            "highs": {"version": direct_solver_version(), "options": dict(HIGHS_OPTIONS)},
        },
    }


@dataclass(frozen=True)
class Terms:
    """A ``market`` transaction read back: what ``reclear`` clears with."""

    grid: Grid
    rules: MarketRules
    minutes: int
    pricing: PricingMode
    backend: Backend
    body: dict[str, Any]

    @classmethod
    def of(
        cls,
        grid: Grid,
        rules: MarketRules,
        *,
        minutes: int = 15,
        pricing: PricingMode = PricingMode.NODAL,
        backend: Backend = "auto",
    ) -> Terms:
        return cls(
            grid,
            rules,
            minutes,
            PricingMode(pricing),
            backend,
            market_terms(grid, rules, minutes=minutes, pricing=pricing, backend=backend),
        )

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> Terms:
        """Terms from a stored ``market`` body; ``InvalidInput`` if it is not one."""
        try:
            if body["version"] != TERMS_VERSION or body["backend"] not in (
                "auto",
                "pyomo",
                "highs",
            ):
                raise ValueError
            rules = MarketRules(**body["rules"])
            minutes = body["minutes"]
            if type(minutes) is not int:
                raise TypeError
            return cls(
                parse(Grid, body["grid"], "market grid"),
                rules,
                minutes,
                PricingMode(body["pricing"]),
                cast(Backend, body["backend"]),
                body,
            )
        except (KeyError, TypeError, ValueError, InvalidInput):
            raise InvalidInput(
                "market terms on the ledger are not ones this voisin reads", code="bad-terms"
            ) from None

    def same_software(self) -> list[str]:
        """What differs between the recorded solvers and the ones installed here."""
        now = market_terms(
            self.grid, self.rules, minutes=self.minutes, pricing=self.pricing, backend=self.backend
        )
        return [
            f"{key}: recorded {self.body.get(key)}, installed {now[key]}"
            for key in ("matrix_backend_segments", "solvers")
            if self.body.get(key) != now[key]
        ]
