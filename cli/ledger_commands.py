"""`voisin ledger ...`: the arguments of every ledger command and what each one runs.

Each command imports its module only when it runs, so `voisin --help` stays fast.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from voisin.cli.ledger_proof import ledger_source
from voisin.settings import DEFAULTS

DEFAULT_DB = Path("voisin-out/ledger.sqlite")


def _db(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "db",
        type=ledger_source,
        nargs="?",
        default=DEFAULT_DB,
        help=f"ledger file or postgresql:// URL (default {DEFAULT_DB})",
    )


def hex64(text: str) -> str:
    """An argparse type: a 64-digit hex key or hash, lower-cased."""
    value = text.strip().lower()
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise argparse.ArgumentTypeError("expected 64 hex digits")
    return value


def _verify(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.ledger_view import show_verify

    return show_verify(args.db, console, operator=args.operator, head=args.head)


def _show(args: argparse.Namespace, console: Console) -> int:
    if args.participant is None and args.key is None and args.seal is None:
        from voisin.cli.ledger_view import show_blocks

        return show_blocks(args.db, console, limit=args.limit)
    from voisin.cli.wallet import show_statement

    return show_statement(
        args.db, console, participant=args.participant, key=args.key, seal=args.seal
    )


def _open_statement(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.wallet import open_statement_file

    return open_statement_file(args.sealed, console, key=args.key)


def _open_readings(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.wallet import open_readings_file

    return open_readings_file(args.db, args.sealed, console, key=args.key)


def _key(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.wallet import show_sim_key

    return show_sim_key(console, seed=args.seed, member=" ".join(args.member))


def _contract(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.wallet import write_signed_contract

    return write_signed_contract(
        console,
        template=args.template,
        key=args.key,
        from_interval=args.from_interval,
        counterpart=args.counterpart,
        share=args.share,
        cap=args.cap,
        revokes=args.revokes,
        nonce=args.nonce,
    )


def _proof(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.ledger_proof import write_proof

    return write_proof(
        args.db, height=args.height, index=args.index, tx_hash=args.tx, hash_only=args.hash_only
    )


def _headers(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.ledger_proof import write_headers

    return write_headers(args.db)


def _check_proof(args: argparse.Namespace, console: Console) -> int:
    from voisin.cli.ledger_proof import check_proof_files

    return check_proof_files(args.proof, args.headers, console, operator=args.operator)


def add_ledger_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lsub = sub.add_parser(
        "ledger", help="verify, show, prove; statements and contracts"
    ).add_subparsers(dest="ledger_command", required=True)

    v = lsub.add_parser(
        "verify", help="recompute every hash, signature, payment, settlement, reward and balance"
    )
    _db(v)
    v.add_argument(
        "--operator",
        type=hex64,
        help="pin the operator's public key (hex): a chain signed by any other key fails",
    )
    v.add_argument(
        "--head",
        type=hex64,
        help="pin the newest block hash you know (hex): a chain cut short or replaced fails",
    )
    v.set_defaults(run=_verify)

    s = lsub.add_parser("show", help="list blocks, or one participant's statement")
    _db(s)
    s.add_argument("--limit", type=int, default=20, help="blocks to list (default 20)")
    s.add_argument("--participant", help="a participant's statement (public key hex)")
    s.add_argument(
        "--key",
        help="the participant's seed (hex): print the statement in "
        "clear; without it the statement is sealed to the key",
    )
    s.add_argument("--seal", type=Path, help="write the sealed statement to this file")
    s.set_defaults(run=_show)

    o = lsub.add_parser("open-statement", help="open a sealed statement with your key")
    o.add_argument("sealed", type=Path)
    o.add_argument("--key", required=True, help="your seed (hex)")
    o.set_defaults(run=_open_statement)

    r = lsub.add_parser(
        "open-readings",
        help="open your whole meter readings (and one-time key links) and check each "
        "against the ledger",
    )
    _db(r)
    r.add_argument(
        "--sealed", type=Path, help="the sealed file (default: sealed.jsonl beside the ledger)"
    )
    r.add_argument("--key", required=True, help="your member seed (hex)")
    r.set_defaults(run=_open_readings)

    k = lsub.add_parser("key", help="print a simulated member's id and seed")
    k.add_argument("member", nargs="+", help="'household N', 'school', 'fund' or 'operator'")
    k.add_argument(
        "--seed",
        type=int,
        default=DEFAULTS.seed,
        help=f"the simulation's seed (default {DEFAULTS.seed})",
    )
    k.set_defaults(run=_key)

    g = lsub.add_parser("contract", help="print a contract signed with your key, as JSON")
    g.add_argument(
        "template", choices=("priority-partner", "gift-share", "green-only", "price-cap", "revoke")
    )
    g.add_argument("--key", required=True, help="your seed (hex): you own the contract")
    g.add_argument(
        "--from",
        dest="from_interval",
        required=True,
        help="first interval it applies to, e.g. 2026-06-22T10:00Z",
    )
    g.add_argument(
        "--partner",
        "--recipient",
        dest="counterpart",
        help="participant id: the priority partner or the gift's recipient",
    )
    g.add_argument("--share", type=float, help="gift share, 0..1")
    g.add_argument("--cap", type=float, help="price cap, EUR/kWh")
    g.add_argument("--revokes", help="id of the contract to revoke")
    g.add_argument("--nonce", type=int, default=0, help="tells identical contracts apart")
    g.set_defaults(run=_contract)

    p = lsub.add_parser("proof", help="print a JSON inclusion proof of one transaction")
    _db(p)
    p.add_argument("--height", type=int, help="block height of the transaction")
    p.add_argument("--index", type=int, help="index of the transaction in its block")
    p.add_argument("--tx", help="the transaction's leaf hash (hex), instead of height/index")
    p.add_argument("--hash-only", action="store_true", help="leave the body out of the proof")
    p.set_defaults(run=_proof)

    h = lsub.add_parser("headers", help="print every signed block header as JSON")
    _db(h)
    h.set_defaults(run=_headers)

    c = lsub.add_parser("check-proof", help="check a proof with the block headers only")
    c.add_argument("proof", type=Path)
    c.add_argument("--headers", type=Path, required=True, help="output of `ledger headers`")
    c.add_argument("--operator", help="pin the operator's public key (hex)")
    c.set_defaults(run=_check_proof)
