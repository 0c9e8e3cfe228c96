"""Ed25519 keys and signatures (PyNaCl). Public keys in hex are participant ids."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import cache

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from voisin.errors import InvalidInput


class KeyPair:
    """A signing key; ``public_hex`` is the pseudonymous id it signs as."""

    def __init__(self, signing_key: SigningKey) -> None:
        self._key = signing_key
        self.public_hex = signing_key.verify_key.encode().hex()

    @classmethod
    def generate(cls) -> KeyPair:
        return cls(SigningKey.generate())

    @classmethod
    def derive(cls, *labels: object) -> KeyPair:
        """A key fixed by its labels, for reproducible simulations (never for real use)."""
        seed = hashlib.sha256("/".join(str(x) for x in ("voisin-sim", *labels)).encode()).digest()
        return cls(SigningKey(seed))

    @classmethod
    def from_seed_hex(cls, seed_hex: str) -> KeyPair:
        return cls(SigningKey(bytes.fromhex(seed_hex)))

    @property
    def seed_hex(self) -> str:
        return bytes(self._key).hex()

    def sign(self, message: bytes) -> str:
        """Detached signature (hex) over ``message``."""
        return self._key.sign(message).signature.hex()


def verify(public_hex: str, message: bytes, signature_hex: str) -> bool:
    """True when ``signature_hex`` is ``public_hex``'s signature over ``message``."""
    try:
        VerifyKey(bytes.fromhex(public_hex)).verify(message, bytes.fromhex(signature_hex))
    except (BadSignatureError, ValueError, TypeError):
        return False
    return True


SPLIT_FROM = 8
"""``verify_many`` splits batches of at least this many signatures across two threads."""


@cache
def _helper() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="voisin-verify")


def _verify_all(items: Sequence[tuple[str, bytes, str]]) -> list[bool]:
    return [verify(*item) for item in items]


def verify_many(items: Sequence[tuple[str, bytes, str]]) -> list[bool]:
    """``verify`` of each (public key, message, signature), in order, on both cores.

    libsodium (through PyNaCl's cffi binding) releases the interpreter lock while it
    verifies, so a batch split in two halves, one on a helper thread and one on the
    caller's, checks in about half the time on a 2-core machine (measured: ~23k/s on
    one thread, ~44k/s in halves). Small batches stay on the caller's thread, where a
    hand-off would cost more than it saves. The operator's intake and the ledger's
    verifier both check signatures in bulk through this.
    """
    if len(items) < SPLIT_FROM:
        return _verify_all(items)
    half = len(items) // 2
    other = _helper().submit(_verify_all, items[half:])
    return _verify_all(items[:half]) + other.result()


def require_valid(public_hex: str, message: bytes, signature_hex: str, what: str) -> None:
    if not verify(public_hex, message, signature_hex):
        raise InvalidInput(f"{what}: signature does not verify", code="bad-signature")
