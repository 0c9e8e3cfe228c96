"""`voisin ledger show --participant`, `ledger open-statement`, `ledger key`: a member's view.

A statement is printed in clear only to the holder of the participant's key (``--key``);
otherwise it is written sealed to that key, so the operator can hand it out over any
channel. Keys of simulated members are derived from the run's seed (`ledger key`).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from voisin.cli.ledger_proof import existing_ledger, shown
from voisin.cli.outputs import refuse_existing_file, write_output
from voisin.errors import InvalidInput
from voisin.ledger import contract_transaction, verify_ledger
from voisin.ledger.contracts import parse_terms
from voisin.ledger.figures import TOKEN_WORTH, tokens
from voisin.ledger.proofs import load_json
from voisin.ledger.statements import Statement, open_statement, seal_statement, statement_for
from voisin.ledger.store import is_database_url, open_store
from voisin.protocol import KeyPair, TxKind


def _key(seed_hex: str) -> KeyPair:
    try:
        return KeyPair.from_seed_hex(seed_hex.strip())
    except ValueError:
        raise InvalidInput(
            "--key must be a 32-byte Ed25519 seed in hex (64 digits)", code="bad-key"
        ) from None


def show_statement(
    db: str | Path,
    console: Console,
    *,
    participant: str | None,
    key: str | None,
    seal: Path | None = None,
) -> int:
    """Print a statement (with the key) or write it sealed (without it)."""
    pair = _key(key) if key else None
    if pair is not None and participant and participant != pair.public_hex:
        raise InvalidInput(
            f"--key belongs to participant {pair.public_hex[:16]}..., not {participant[:16]}...",
            code="wrong-key",
        )
    who = pair.public_hex if pair is not None else participant
    if not who:
        raise InvalidInput(
            "name a --participant (public key hex) or give its --key", code="no-participant"
        )
    db = existing_ledger(db)  # a run folder: its ledger, in every read below
    if seal is not None:  # before the ledger is read: --seal never replaces a file
        refuse_existing_file(seal, overwrite=None)
    report = verify_ledger(db)
    _require_member(db, who)
    statement = statement_for(db, who)
    if statement.head_hash != report.head_hash:
        raise InvalidInput(
            f"{shown(db)} changed while the statement was computed; run it again",
            code="ledger-changed",
        )
    if pair is None or seal is not None:
        sealed = seal_statement(statement).model_dump_json(indent=1)
        if seal is None:
            print(sealed, file=sys.stdout)
        else:
            write_output(seal, sealed + "\n")
            console.print(
                f"sealed statement for {who[:16]}... written to {seal}; only that "
                "participant's key opens it (`voisin ledger open-statement`)",
                highlight=False,
            )
        return 0
    render_statement(statement, console)
    return 0


def _require_member(db: str | Path, who: str) -> None:
    """Refuse a statement for a key that never registered (it would be all zeros)."""
    with open_store(db, read_only=True) as store:
        for _, _, kind, body, _ in store.raw_transactions():
            if (
                kind == TxKind.REGISTRATION.value
                and who in body
                and json.loads(body).get("participant_id") == who
            ):
                return
    raise InvalidInput(f"{who[:16]}... is not a member of {shown(db)}", code="not-a-member")


def open_statement_file(path: Path, console: Console, *, key: str) -> int:
    """Open a sealed statement file with the participant's key and print it."""
    render_statement(open_statement(load_json(path, "sealed statement"), _key(key)), console)
    return 0


def render_statement(s: Statement, console: Console) -> None:
    table = Table(
        title=f"Statement of {s.participant[:16]}... at ledger height "
        f"{s.head_height} ({s.head_hash[:12]})"
    )
    table.add_column("item")
    table.add_column("kWh", justify="right")
    table.add_column("EUR", justify="right")
    table.add_row("bought from neighbours", f"{s.p2p_bought_kwh:,.3f}", f"{s.p2p_bought_eur:,.2f}")
    table.add_row("sold to neighbours", f"{s.p2p_sold_kwh:,.3f}", f"{s.p2p_sold_eur:,.2f}")
    table.add_row("bought from the grid", f"{s.grid_import_kwh:,.3f}", f"{s.grid_import_eur:,.2f}")
    table.add_row("sold to the grid", f"{s.grid_export_kwh:,.3f}", f"{s.grid_export_eur:,.2f}")
    table.add_row(
        "imbalance (+ exported, EUR + received)",
        f"{s.imbalance_kwh:+,.3f}",
        f"{s.imbalance_eur:+,.2f}",
    )
    table.add_row("estimated meter intervals", str(s.estimated_intervals), "")
    console.print(table)
    table = Table(title=f"Tokens ({TOKEN_WORTH})")
    table.add_column("item")
    table.add_column("tokens", justify="right")
    for name, micro in (
        ("received", s.tokens_received_micro),
        ("paid", s.tokens_paid_micro),
        (f"green rewards ({s.rewards_kwh:,.3f} kWh proven)", s.rewards_micro),
        ("balance", s.balance_micro),
    ):
        table.add_row(name, f"{tokens(micro):,.6f}")
    console.print(table)


_SIM_ROLES = ("operator", "fund", "school")


def show_sim_key(console: Console, *, seed: int, member: str) -> int:
    """Print the id and seed of a simulated member (``household N``, school, operator)."""
    parts = member.split()
    if parts and parts[0] == "household" and len(parts) == 2 and parts[1].isdigit():
        pair = KeyPair.derive("seed", seed, "household", int(parts[1]))
    elif member in _SIM_ROLES:
        pair = KeyPair.derive("seed", seed, member)
    else:
        raise InvalidInput(
            f"member {member!r}: use 'household N', 'school', 'fund' or 'operator'",
            code="bad-member",
        )
    console.print(f"participant {pair.public_hex}\nseed        {pair.seed_hex}", highlight=False)
    return 0


def write_signed_contract(
    console: Console,
    *,
    template: str,
    key: str,
    from_interval: str,
    counterpart: str | None = None,
    share: float | None = None,
    cap: float | None = None,
    revokes: str | None = None,
    nonce: int = 0,
) -> int:
    """Print a contract (or revoke) signed with the owner's key, as the operator takes it.

    The operator checks it (``accept_contract``) and appends it; the ledger refuses it if
    the signature or terms are wrong, so a file is only as good as its signer.
    """
    pair = _key(key)
    fields: dict[str, object] = {
        "owner": pair.public_hex,
        "from_interval": from_interval,
        "nonce": nonce,
        "template": template.replace("-", "_"),
    }
    templates: dict[str, dict[str, Any]] = {
        "priority_partner": {"partner": counterpart},
        "gift_share": {"recipient": counterpart, "share": share},
        "price_cap": {"cap_eur_per_kwh": cap},
        "green_only": {},
        "revoke": {"revokes": revokes},
    }
    extra = templates.get(str(fields["template"]))
    if extra is None:
        raise InvalidInput(f"unknown contract template {template!r}", code="bad-contract")
    missing = [k for k, v in extra.items() if v is None]
    if missing:
        raise InvalidInput(f"{template} needs {', '.join(missing)}", code="bad-contract")
    terms = parse_terms({**fields, **extra}, f"{template} contract")
    print(json.dumps(contract_transaction(terms, pair).body, indent=1), file=sys.stdout)
    return 0


def open_readings_file(db: Path, sealed: Path | None, console: Console, *, key: str) -> int:
    """Open every whole reading and one-time key link sealed to ``key``; check each
    reading is, in public form, the one the ledger stores and signed by its meter."""
    from voisin.ledger.sealed import SEALED_FILE, check_against_ledger, open_links, open_readings

    pair = _key(key)
    ledger = existing_ledger(db)
    if sealed is not None:
        path = sealed
    elif not is_database_url(ledger):
        path = Path(ledger).parent / SEALED_FILE
    else:
        raise InvalidInput(
            "a ledger in a database has no sealed file beside it: name it with --sealed",
            code="no-sealed-file",
        )
    links = open_links(path, pair)
    readings = open_readings(path, pair)
    if not readings and not links:
        raise InvalidInput(
            f"nothing in {path} is sealed to {pair.public_hex[:16]}...", code="nothing-sealed"
        )
    checked = check_against_ledger(ledger, readings)
    table = Table(title=f"Whole meter readings sealed to {pair.public_hex[:16]}...")
    for name in ("interval", "key", "pv kWh", "load kWh", "battery kWh", "import", "export"):
        table.add_column(name, justify="left" if name in ("interval", "key") else "right")
    for r in sorted(readings, key=lambda r: r.interval):
        table.add_row(
            r.interval,
            r.participant[:12],
            f"{r.pv_kwh:.3f}",
            f"{r.load_kwh:.3f}",
            f"{r.battery_kwh:+.3f}",
            f"{r.import_kwh:.3f}",
            f"{r.export_kwh:.3f}",
        )
    if readings:
        console.print(table)
    console.print(
        f"{checked} readings opened, each the ledger's public reading by hash and signed "
        f"by its meter; {len(links)} one-time key links opened",
        highlight=False,
    )
    return 0
