"""Ed25519 keys and signatures (PyNaCl). Public keys in hex are participant ids."""

from __future__ import annotations

import hashlib

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


def require_valid(public_hex: str, message: bytes, signature_hex: str, what: str) -> None:
    if not verify(public_hex, message, signature_hex):
        raise InvalidInput(f"{what}: signature does not verify", code="bad-signature")
