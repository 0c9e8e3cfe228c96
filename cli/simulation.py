"""One process runs the whole story: meters -> agents -> market -> ledger.

The runner owns no market or ledger logic: it hands the agents' bids and their meters'
readings to the same operator core the ZeroMQ service wraps, and keeps the totals the
summary reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from voisin.agents import Neighbourhood, Scenario, default_neighbourhood
from voisin.cli.accounts import Accounts
from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import Ledger, verify_ledger
from voisin.ledger.contracts import GiftShare, contract_transaction
from voisin.market import Operator
from voisin.protocol import ClearingResult, Interval, KeyPair, ParticipantKind, day_intervals

LEDGER_FILE = "ledger.sqlite"
GENESIS_SUPPLY_MICRO = 1_000_000 * 1_000_000
OPENING_ALLOWANCE_MICRO = 500 * 1_000_000


class SimulationConfig(BaseModel):
    """What `voisin simulate` runs; every field has a default that works out of the box."""

    model_config = ConfigDict(frozen=True)

    days: int = Field(default=1, ge=1, le=366)
    seed: int = Field(default=7, ge=0)
    households: int = Field(default=30, ge=1, le=5000)
    start: date = date(2026, 6, 22)
    minutes: int = Field(default=15, ge=5, le=60)
    out: Path = Path("voisin-out")
    overwrite: bool = False
    gift_share: float = Field(default=0.3, ge=0, le=1)
    """Share of the sunniest household's surplus it gives the school by contract."""

    @field_validator("minutes")
    @classmethod
    def _divides_day(cls, minutes: int) -> int:
        if 1440 % minutes:
            raise ValueError(f"{minutes} min does not divide a day into whole intervals")
        return minutes


@dataclass
class SimulationReport:
    """Totals of a finished run, as the summary table shows them."""

    config: SimulationConfig
    ledger_path: Path
    intervals: int = 0
    bids: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    accounts: Accounts = field(default_factory=Accounts)
    ledger_height: int = 0
    transactions: int = 0
    minted_tokens: float = 0.0
    verified: bool = False


def _prepare_out(config: SimulationConfig) -> Path:
    try:
        config.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create output folder {config.out}: {exc.strerror}",
                           code="bad-output") from None
    path = config.out / LEDGER_FILE
    if path.exists():
        if not config.overwrite:
            raise InvalidInput(
                f"{path} already holds a ledger; pass --overwrite to replace it or --out "
                "to write elsewhere",
                code="ledger-exists",
            )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def _gift_contract(scenario: Scenario, share: float, first: Interval) -> dict[str, object] | None:
    """The story's contract: the household with the most PV gives ``share`` of its
    surplus to the school, signed with its own key; None without PV, school or share."""
    givers = sorted((m for m in scenario.members if m.pv_kwp > 0),
                    key=lambda m: (-m.pv_kwp, m.id))
    schools = [m for m in scenario.members if m.participant.kind is ParticipantKind.SCHOOL]
    if not share or not givers or not schools:
        return None
    terms = GiftShare(owner=givers[0].id, recipient=schools[0].id, share=share,
                      from_interval=first.id)
    return contract_transaction(terms, givers[0].keypair).body


def run_simulation(
    config: SimulationConfig,
    on_interval: Callable[[Interval, ClearingResult], None] | None = None,
) -> SimulationReport:
    """Simulate ``config.days`` days and write the ledger; returns the totals."""
    path = _prepare_out(config)
    scenario = default_neighbourhood(households=config.households, seed=config.seed)
    intervals = day_intervals(config.start, config.minutes, config.days)
    model = Neighbourhood(scenario, intervals=intervals, seed=config.seed)
    report = SimulationReport(config=config, ledger_path=path)
    participants = [m.participant for m in scenario.members]
    report.accounts.register(participants)
    opening = intervals[0].start.isoformat()

    operator_key = KeyPair.derive("seed", config.seed, "operator")
    with Ledger.open(path, operator_key, fund=scenario.fund, time=opening,
                     genesis_supply_micro=GENESIS_SUPPLY_MICRO) as ledger:
        operator = Operator(scenario.grid, ledger)
        operator.register(participants, time=opening, allowance_micro=OPENING_ALLOWANCE_MICRO)
        gift = _gift_contract(scenario, config.gift_share, intervals[0])
        if gift is not None:
            operator.submit_contract(gift, time=opening)
        for interval in intervals:
            bids = model.bids_for(interval)
            report.bids += len(bids)
            operator.submit_all(bids, interval)
            result = operator.close_gate(interval)
            readings = model.deliver(interval, result.curtailed_kwh)
            for reading in readings:
                try:
                    operator.submit_reading(reading)
                except VoisinError:
                    pass  # counted by the operator; settlement estimates and flags it
            settlements = operator.settle(interval)
            report.accounts.record(result, settlements, readings, operator.gifts(interval))
            report.intervals += 1
            if on_interval is not None:
                on_interval(interval, result)
        report.ledger_height = ledger.height
        report.rejected = dict(operator.rejections.by_code)

    verified = verify_ledger(path)
    report.verified = verified.balances_ok
    report.transactions = verified.transactions
    report.minted_tokens = verified.minted_micro / 1e6
    return report
