"""Contracts: typed, declarative templates signed by their owner and kept on the ledger.

Not a virtual machine: four templates with fixed meanings (priority partner, gift share,
green-only purchase, price cap), each in force from a named interval on, and a revoke
that ends one from a later interval on. A contract transaction's body is the template's
terms plus the owner's Ed25519 signature over their canonical bytes; its id is the
SHA-256 of those bytes. ``ContractBook`` replays the ledger's contract transactions in
order, refusing any that is unsigned, badly signed, retroactive or revokes what its
signer does not own, so every reader of the chain derives the same contracts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from voisin.errors import InvalidInput, LedgerError
from voisin.protocol import KeyPair, Transaction, TxKind, canonical_bytes, sha256_hex, verify

_HEX_KEY = r"^[0-9a-f]{64}$"
_INTERVAL = r"^\d{4}-\d\d-\d\dT\d\d:\d\dZ$"
"""Interval ids as ``voisin.protocol.Interval.id`` writes them; they sort as text."""


class _Terms(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    owner: str = Field(pattern=_HEX_KEY)
    from_interval: str = Field(pattern=_INTERVAL)
    nonce: int = Field(default=0, ge=0)
    """Tells apart two otherwise identical contracts (their ids would collide)."""

    @property
    def contract_id(self) -> str:
        return sha256_hex(canonical_bytes(self))


class PriorityPartner(_Terms):
    """The owner's bids prefer ``partner`` ("my surplus goes to the school first")."""

    template: Literal["priority_partner"] = "priority_partner"
    partner: str = Field(pattern=_HEX_KEY)


class GiftShare(_Terms):
    """``share`` (0..1] of the owner's offered energy goes to ``recipient`` at price 0."""

    template: Literal["gift_share"] = "gift_share"
    recipient: str = Field(pattern=_HEX_KEY)
    share: float = Field(gt=0, le=1, allow_inf_nan=False)


class GreenOnly(_Terms):
    """The owner buys only local (peer-to-peer) energy, no grid import legs."""

    template: Literal["green_only"] = "green_only"


class PriceCap(_Terms):
    """The owner's buy limits never exceed ``cap_eur_per_kwh``."""

    template: Literal["price_cap"] = "price_cap"
    cap_eur_per_kwh: float = Field(allow_inf_nan=False)


class Revoke(_Terms):
    """Ends contract ``contract_id`` (same owner) from ``from_interval`` on."""

    template: Literal["revoke"] = "revoke"
    revokes: str = Field(pattern=_HEX_KEY)


Contract = PriorityPartner | GiftShare | GreenOnly | PriceCap
Terms = Annotated[Contract | Revoke, Field(discriminator="template")]
_TERMS: TypeAdapter[Contract | Revoke] = TypeAdapter(Terms)


def parse_terms(data: Mapping[str, Any], what: str = "contract") -> Contract | Revoke:
    """Terms from plain data (a file, a flag), with one clear ``InvalidInput`` if wrong."""
    try:
        return _TERMS.validate_python(data)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}"
            for e in exc.errors(include_url=False)
        ]
        raise InvalidInput(
            f"{what} rejected: " + "; ".join(problems), code="bad-contract"
        ) from None


def contract_transaction(terms: Contract | Revoke, owner: KeyPair) -> Transaction:
    """The signed CONTRACT transaction registering (or revoking) ``terms``."""
    if owner.public_hex != terms.owner:
        raise InvalidInput(
            f"{terms.template}: signed by {owner.public_hex[:16]}..., but the "
            f"owner is {terms.owner[:16]}...",
            code="bad-contract",
        )
    body = terms.model_dump(mode="json")
    body["signature"] = owner.sign(canonical_bytes(body))
    return Transaction(kind=TxKind.CONTRACT, body=body)


def revoke(contract: Contract, owner: KeyPair, from_interval: str, nonce: int = 0) -> Transaction:
    """A signed revoke of ``contract`` from ``from_interval`` on."""
    terms = Revoke(
        owner=contract.owner, from_interval=from_interval, nonce=nonce, revokes=contract.contract_id
    )
    return contract_transaction(terms, owner)


def read_contract(body: Mapping[str, Any]) -> Contract | Revoke:
    """Validate a contract body and its owner's signature; ``LedgerError`` if either fails."""
    if not isinstance(body, Mapping):
        raise LedgerError("contract body is not an object", code="bad-contract")
    unsigned = dict(body)
    signature = unsigned.pop("signature", None)
    if not isinstance(signature, str) or not signature:
        raise LedgerError("contract is not signed by its owner", code="bad-contract")
    try:
        terms = _TERMS.validate_python(unsigned)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        raise LedgerError(
            f"contract terms rejected: {where}: {first['msg']}", code="bad-contract"
        ) from None
    if canonical_bytes(terms) != canonical_bytes(unsigned):
        raise LedgerError("contract body is not in canonical form", code="bad-contract")
    if not verify(terms.owner, canonical_bytes(unsigned), signature):
        raise LedgerError(
            f"{terms.template} contract: owner signature does not verify", code="bad-contract"
        )
    return terms


def accept_contract(body: Mapping[str, Any]) -> Transaction:
    """A contract (or revoke) body received from a participant, checked, as a transaction.

    For the operator's intake: raises ``InvalidInput`` (code ``bad-contract``) with the
    reason, so the agent gets a reasoned rejection rather than a ledger error.
    """
    try:
        read_contract(body)
    except LedgerError as exc:
        raise InvalidInput(exc.message, code="bad-contract") from None
    return Transaction(kind=TxKind.CONTRACT, body=dict(body))


class ContractBook:
    """Every contract registered on a ledger, with revocations, in registration order."""

    def __init__(self) -> None:
        self._contracts: dict[str, Contract] = {}
        self._revoked: dict[str, str] = {}
        self._by_owner: dict[str, list[str]] = {}

    def copy(self) -> ContractBook:
        book = ContractBook()
        book._contracts = dict(self._contracts)
        book._revoked = dict(self._revoked)
        book._by_owner = {k: list(v) for k, v in self._by_owner.items()}
        return book

    def __len__(self) -> int:
        return len(self._contracts)

    def apply_body(self, body: Mapping[str, Any], *, after: str | None = None) -> str:
        """Check and record one contract transaction; returns the contract id it names.

        ``after`` is the newest interval the chain has already named: a contract or a
        revoke must take effect strictly later, so history is never rewritten.
        """
        terms = read_contract(body)
        if after is not None and terms.from_interval <= after:
            raise LedgerError(
                f"{terms.template} from {terms.from_interval} would act on "
                f"interval {after}, which the ledger already holds",
                code="retroactive-contract",
            )
        if isinstance(terms, Revoke):
            target = terms.revokes
            known = self._contracts.get(target)
            if known is None:
                raise LedgerError(
                    f"revoke of unknown contract {target[:16]}...", code="bad-contract"
                )
            if known.owner != terms.owner:
                raise LedgerError(
                    f"revoke of contract {target[:16]}... by someone other than its owner",
                    code="bad-contract",
                )
            if target in self._revoked:
                raise LedgerError(
                    f"contract {target[:16]}... is revoked already", code="bad-contract"
                )
            self._revoked[target] = terms.from_interval
            return target
        cid = terms.contract_id
        if cid in self._contracts:
            raise LedgerError(
                f"contract {cid[:16]}... is registered already (use a new nonce)",
                code="bad-contract",
            )
        self._contracts[cid] = terms
        self._by_owner.setdefault(terms.owner, []).append(cid)
        return cid

    def apply_all(self, bodies: Iterable[Mapping[str, Any]], *, after: str | None = None) -> None:
        for body in bodies:
            self.apply_body(body, after=after)

    def contract(self, contract_id: str) -> Contract:
        try:
            return self._contracts[contract_id]
        except KeyError:
            raise LedgerError(f"no contract {contract_id[:16]}...", code="no-contract") from None

    def revoked_from(self, contract_id: str) -> str | None:
        return self._revoked.get(contract_id)

    def in_force(self, contract_id: str, interval: str) -> bool:
        """Whether the contract applies to ``interval``: from its start until revoked."""
        terms = self.contract(contract_id)
        end = self._revoked.get(contract_id)
        return terms.from_interval <= interval and (end is None or interval < end)

    def active(self, owner: str, interval: str) -> tuple[Contract, ...]:
        """The owner's contracts in force in ``interval``, in registration order."""
        return tuple(
            self._contracts[c] for c in self._by_owner.get(owner, ()) if self.in_force(c, interval)
        )

    def active_all(self, interval: str) -> tuple[Contract, ...]:
        """Every contract in force in ``interval``: owners sorted, then registration order."""
        return tuple(c for owner in sorted(self._by_owner) for c in self.active(owner, interval))

    @property
    def contracts(self) -> tuple[Contract, ...]:
        """Every registered contract (revoked ones too), in registration order."""
        return tuple(self._contracts.values())
