"""One process runs the whole story: meters -> agents -> market -> ledger.

The runner owns no market or ledger logic: it hands the agents' bids and their meters'
readings to the same operator core the ZeroMQ service wraps, and keeps the totals the
summary reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from voisin.agents import Neighbourhood, Scenario
from voisin.agents.forecasts import ForecastError
from voisin.agents.profiles import neighbourhood_profiles
from voisin.agents.pseudonyms import Pseudonyms, day_of
from voisin.agents.scenario_build import build_scenario, replayed_profiles
from voisin.agents.scenario_file import ScenarioFile, read_scenario
from voisin.agents.strategies import STRATEGIES
from voisin.cli.accounts import Accounts
from voisin.cli.ledger_proof import shown
from voisin.cli.outputs import (
    LEDGER_FILE,
    RUN_FILES,
    StagedOutput,
    refuse_existing_file,
    refuse_existing_ledger,
)
from voisin.errors import InvalidInput, VoisinError
from voisin.ledger import Ledger, verify_ledger
from voisin.ledger.contracts import GiftShare, contract_transaction
from voisin.ledger.figures import LedgerFigures, tokens
from voisin.ledger.sealed import SEALED_FILE, SealedStore
from voisin.ledger.store import sqlite_files
from voisin.market import Operator
from voisin.market.community import OPENING_ALLOWANCE_MICRO, genesis_supply_micro
from voisin.meters import LYON, Site
from voisin.protocol import (
    ClearingResult,
    Interval,
    KeyPair,
    ParticipantKind,
    day_intervals,
    parse,
)
from voisin.settings import DEFAULTS, RunDefaults

if TYPE_CHECKING:
    from voisin.grid.day_check import DayCheck


class SimulationConfig(RunDefaults):
    """What `voisin simulate` runs: a scenario file (None: the built-in default) and the
    run settings given as flags, which override the file's ``[run]`` table."""

    scenario: Path | None = None
    grid: str | None = None
    """``simbench:CODE``: run the market on that SimBench LV grid and its households
    instead of the scenario's neighbourhood."""
    grid_check: bool = True
    """Run pandapower's AC power flow on every cleared and every metered interval."""
    out: Path = Path("voisin-out")
    overwrite: bool = False
    ledger: str | None = None
    """A ``postgresql://`` URL to keep the ledger in instead of ``out/ledger.sqlite``."""

    def resolved(self) -> ScenarioFile:
        """The scenario file with the explicitly given run settings applied."""
        file = read_scenario(self.scenario)
        given = {k: getattr(self, k) for k in self.model_fields_set & set(RunDefaults.model_fields)}
        run = parse(RunDefaults, {**file.run.model_dump(), **given}, "run settings")
        return file.model_copy(update={"run": run})


@dataclass
class GridFigures:
    """What the feeder physically did over the run, from each clearing's predicted
    state (kWh over the run, pu, %) and, when checked, from the AC power flow of the
    schedule and of what the meters measured."""

    physical: bool = False
    transformer_import_kwh: float = 0.0
    transformer_export_kwh: float = 0.0
    losses_kwh: float = 0.0
    curtailed_kwh: float = 0.0
    min_vm_pu: float = float("inf")
    max_vm_pu: float = 0.0
    binding_intervals: int = 0
    scheduled: DayCheck | None = None
    metered: DayCheck | None = None

    def add(self, result: ClearingResult, hours: float) -> None:
        self.curtailed_kwh += sum(result.curtailed_kwh.values())
        state = result.physics
        if state is None:
            return
        self.physical = True
        flow = state.transformer_p_kw * hours
        self.transformer_import_kwh += max(flow, 0.0)
        self.transformer_export_kwh += max(-flow, 0.0)
        self.losses_kwh += state.losses_kw * hours
        self.min_vm_pu = min(self.min_vm_pu, *state.voltage_pu.values())
        self.max_vm_pu = max(self.max_vm_pu, *state.voltage_pu.values())
        self.binding_intervals += bool(state.binding)


@dataclass
class SimulationReport:
    """Totals of a finished run, as the summary table shows them."""

    config: SimulationConfig
    ledger_path: str | Path
    run: RunDefaults = DEFAULTS
    scenario_name: str = "default"
    site: Site = LYON
    weather: list[tuple[str, float]] = field(default_factory=list)
    """Each day and its clear-sky index (empty when the profiles come from SimBench)."""
    forecast_errors: list[ForecastError] = field(default_factory=list)
    below_bid_kwh: float = 0.0
    """Metered net export below what the agents bid for (their forecast was too high)."""
    above_bid_kwh: float = 0.0
    intervals: int = 0
    bids: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    """Refused bids by code (refused readings are counted apart, and estimated)."""
    accounts: Accounts = field(default_factory=Accounts)
    figures: LedgerFigures = field(default_factory=LedgerFigures)
    """Every reported figure, recomputed from the written ledger (``ledger.figures``)."""
    ledger_height: int = 0
    transactions: int = 0
    minted_tokens: float = 0.0
    verified: bool = False
    grid: GridFigures = field(default_factory=GridFigures)


def opening_allowance_micro(scenario: Scenario, days: int) -> int:
    """Tokens each member starts with: enough to buy twice its consumption of the run at
    its retail price (the member using most sets it for all), and never less than the
    500-token opening of a short run. Until its sales and rewards come in, a buyer pays
    peer-to-peer trades from this; a year of a school's purchases needs thousands."""
    need = max(
        (m.annual_kwh + (m.heat_pump.annual_heat_kwh if m.heat_pump else 0.0))
        * days
        / 365
        * m.participant.tariff.import_eur_per_kwh
        * 2
        for m in scenario.members
    )
    return max(OPENING_ALLOWANCE_MICRO, int(need * 1_000_000))


def _gift_contract(
    scenario: Scenario,
    share: float,
    first: Interval,
    keys: Callable[[str], KeyPair] | None = None,
) -> dict[str, object] | None:
    """The story's contract: the household with the most PV gives ``share`` of its
    surplus to the school, signed with its own key (or, under one-time keys, the day
    key ``keys`` gives for a member, to the school's day key); None without PV, school
    or share."""
    givers = sorted((m for m in scenario.members if m.pv_kwp > 0), key=lambda m: (-m.pv_kwp, m.id))
    schools = [m for m in scenario.members if m.participant.kind is ParticipantKind.SCHOOL]
    if not share or not givers or not schools:
        return None
    giver = givers[0].keypair if keys is None else keys(givers[0].id)
    school = schools[0].id if keys is None else keys(schools[0].id).public_hex
    terms = GiftShare(owner=giver.public_hex, recipient=school, share=share, from_interval=first.id)
    return contract_transaction(terms, giver).body


def _open_day(
    operator: Operator,
    sealed: SealedStore,
    pseudonyms: Pseudonyms,
    scenario: Scenario,
    gift_share: float,
    first: Interval,
    allowance_micro: int,
) -> None:
    """Register the day's one-time keys (the operator writes them in key order), seal
    their links, and sign the day's gift contract under them."""
    day = pseudonyms.day(day_of(first.id))
    sealed.add_links(k.link() for k in day)
    time = first.start.isoformat()
    operator.register([k.participant() for k in day], time=time, allowance_micro=allowance_micro)
    gift = _gift_contract(
        scenario, gift_share, first, lambda member: pseudonyms.key(member, first.id).key
    )
    if gift is not None:
        operator.submit_contract(gift, time=time)


def run_simulation(
    config: SimulationConfig,
    on_interval: Callable[[Interval, ClearingResult], None] | None = None,
) -> SimulationReport:
    """Simulate ``config.days`` days and write the ledger; returns the totals."""
    file = config.resolved()
    run = file.run
    intervals = day_intervals(run.start, run.minutes, run.days)
    if config.grid is not None:
        from voisin.agents.simbench_scenario import simbench_scenario  # pandapower: lazily

        scenario, profiles = simbench_scenario(config.grid, intervals, run.seed)
    else:
        scenario = build_scenario(file)
    entries = _refuse_existing(config)  # the scenario is good: refuse before the profiles
    if config.grid is None:
        _, simulated = neighbourhood_profiles(scenario, intervals, run.seed)
        profiles = {**simulated, **replayed_profiles(file, scenario, intervals, simulated)}
    with StagedOutput(config.out, entries) as staged:
        report = _simulate(config, file, scenario, profiles, intervals, staged.folder, on_interval)
        staged.commit()  # only now is the previous run's output replaced
    if config.ledger is None:
        report.ledger_path = config.out / LEDGER_FILE
    return report


def _refuse_existing(config: SimulationConfig) -> tuple[str, ...]:
    """The run folder's entries this run replaces, each refused if present unless
    ``--overwrite`` (the ledger with ``ledger-exists``): a SQLite ledger with its
    companions, the sealed file and the report (which described the old run)."""
    entries: tuple[str, ...] = RUN_FILES[1:]
    if config.ledger is None:
        refuse_existing_ledger(config.out / LEDGER_FILE, overwrite=config.overwrite)
        entries = (*(p.name for p in sqlite_files(Path(LEDGER_FILE))), *RUN_FILES[1:])
    for name in entries:
        refuse_existing_file(config.out / name, overwrite=config.overwrite)
        if (config.out / name).is_dir():  # a user's folder, never a run's file: kept
            raise InvalidInput(
                f"cannot replace {config.out / name}: it is a folder", code="cannot-overwrite"
            )
    return entries


def _simulate(
    config: SimulationConfig,
    file: ScenarioFile,
    scenario: Scenario,
    profiles: dict[str, pd.DataFrame],
    intervals: list[Interval],
    folder: Path,
    on_interval: Callable[[Interval, ClearingResult], None] | None,
) -> SimulationReport:
    """The run itself, its files written in ``folder`` (the staging folder)."""
    run = file.run
    path: str | Path
    if config.ledger is not None:
        from voisin.ledger.store import is_database_url

        if not is_database_url(config.ledger):
            raise InvalidInput(
                f"--ledger {config.ledger}: expected a postgresql:// URL", code="bad-ledger"
            )
        from voisin.ledger.pg_store import claim_database  # psycopg only when asked for

        # a database ledger is dropped here, before the run (docs/reliability.md says so)
        path = claim_database(config.ledger, overwrite=config.overwrite)
    else:
        path = folder / LEDGER_FILE
    pseudonyms = Pseudonyms(scenario.members, intervals) if run.rotate_pseudonyms else None
    model = Neighbourhood(
        scenario,
        intervals=intervals,
        seed=run.seed,
        strategy=STRATEGIES[file.strategy](),
        profiles=profiles,
        pseudonyms=pseudonyms,
    )
    report = SimulationReport(
        config=config,
        ledger_path=path if isinstance(path, Path) else shown(path),
        run=run,
        scenario_name=config.grid or file.name,
        site=scenario.site,
    )
    if config.grid is None:
        report.weather = [
            (day.isoformat(), model.weather.day_index(pd.Timestamp(day)))
            for day in sorted({iv.start.date() for iv in intervals})
        ]
    report.forecast_errors = model.forecast_errors()
    participants = [m.participant for m in scenario.members]
    report.accounts.register(participants)
    report.accounts.local_charge_eur_per_kwh = scenario.grid.local_charge_eur_per_kwh
    opening = intervals[0].start.isoformat()

    operator_key = scenario.operator or KeyPair.derive("seed", run.seed, "operator")
    keys_per_member = run.days if pseudonyms is not None else 1
    allowance = opening_allowance_micro(scenario, run.days // keys_per_member)
    genesis = genesis_supply_micro(len(participants) * keys_per_member, allowance)
    with Ledger.open(
        path, operator_key, fund=scenario.fund, time=opening, genesis_supply_micro=genesis
    ) as ledger:
        sealed = SealedStore(folder / SEALED_FILE, operator_key.public_hex)
        operator = Operator(scenario.grid, ledger, sealed=sealed)
        if pseudonyms is None:
            operator.register(participants, time=opening, allowance_micro=allowance)
            gift = _gift_contract(scenario, run.gift_share, intervals[0])
            if gift is not None:
                operator.submit_contract(gift, time=opening)
        day = ""
        for interval in intervals:
            if pseudonyms is not None and day_of(interval.id) != day:
                day = day_of(interval.id)
                _open_day(
                    operator, sealed, pseudonyms, scenario, run.gift_share, interval, allowance
                )
            bids = model.signed_bids_for(interval)
            report.bids += len(bids)
            operator.submit_all(bids, interval)
            result = operator.close_gate(interval)
            own = result if pseudonyms is None else pseudonyms.unmask_result(result)
            model.observe(interval, own)
            index = model.index_of(interval)
            planned = {
                pid: agent.plans[index].net_kwh
                for pid, agent in model.by_participant.items()
                if index in agent.plans
            }
            signed = model.deliver_signed(interval, own.curtailed_kwh)
            readings = [reading.value for reading in signed]
            for reading in readings if pseudonyms is None else pseudonyms.unmask(readings):
                miss = reading.net_export_kwh - planned.get(reading.participant, 0.0)
                report.below_bid_kwh += max(-miss, 0.0)
                report.above_bid_kwh += max(miss, 0.0)
            for sent in signed:
                try:
                    operator.submit_reading(sent)
                except VoisinError as exc:
                    if exc.code == "beyond-rating":  # the scenario's member, not a meter
                        raise InvalidInput(
                            f"{interval.id}: a member's {exc.message} (its devices or its "
                            "annual use are too large for a low-voltage connection; settled "
                            "as estimated, it would pay nothing for it)",
                            code="beyond-rating",
                        ) from None
                    # any other refusal is counted by the operator; settlement estimates
                    # and flags it
            settlements = operator.settle(interval)
            gifts = operator.gifts(interval)
            if pseudonyms is not None:
                settlements = pseudonyms.unmask(settlements)
                readings = pseudonyms.unmask(readings)
                gifts = pseudonyms.unmask_pairs(gifts)
            report.accounts.record(own, settlements, readings, gifts)
            report.grid.add(result, interval.hours)
            report.intervals += 1
            if on_interval is not None:
                on_interval(interval, result)
        report.ledger_height = ledger.height
        report.rejected = dict(operator.rejections.bids)
    report.accounts.add_fixed(scenario.fixed_eur_per_day_of, report.intervals * run.minutes / 1440)

    verified = verify_ledger(path)
    report.verified = verified.balances_ok
    report.transactions = verified.transactions
    report.minted_tokens = tokens(verified.minted_micro)
    report.figures = LedgerFigures.from_ledger(
        path, groups={p.participant_id: p.group for p in participants}
    )
    if config.grid_check and scenario.grid.physical:
        from voisin.cli.grid_states import metered_states, scheduled_states
        from voisin.grid.day_check import check_days

        report.grid.scheduled, report.grid.metered = check_days(
            scheduled_states(path, scenario.grid), metered_states(path, scenario.grid)
        )
    return report
