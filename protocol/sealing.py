"""Sealing bytes to one key: PyNaCl ``SealedBox`` to an Ed25519 id's Curve25519 form.

A statement, a whole meter reading or a pseudonym's link to its member leaves the
operator sealed this way (docs/privacy.md): anyone may carry or store the box, only the
holder of the matching private key can open it, and nobody else can tell what is inside.
A box is randomised (a fresh ephemeral key each time, libsodium ``crypto_box_seal``), so
sealed boxes are never part of what a deterministic ledger hashes.
"""

from __future__ import annotations

import base64
from functools import lru_cache

from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from voisin.errors import InvalidInput
from voisin.protocol.keys import KeyPair


@lru_cache(maxsize=1 << 16)
def curve_public(recipient: str) -> PublicKey:
    """The Curve25519 public key of an Ed25519 id (64 hex digits).

    Cached: the conversion is a field inversion, about three quarters of what the seal
    itself costs (profiled on a simulated day), and an operator seals every interval's
    readings to the same members. A refused id raises each time (nothing is cached)."""
    try:
        return VerifyKey(bytes.fromhex(recipient)).to_curve25519_public_key()
    except (ValueError, TypeError, CryptoError):
        raise InvalidInput(
            f"recipient {recipient[:16]}... is not an Ed25519 public key (64 hex digits)",
            code="bad-key",
        ) from None


def seal_to(recipient: str, data: bytes) -> str:
    """``data`` sealed to ``recipient``'s key, base64."""
    return base64.b64encode(SealedBox(curve_public(recipient)).encrypt(data)).decode("ascii")


def open_sealed(sealed: str, key: KeyPair, what: str = "sealed record") -> bytes:
    """Open a base64 box with ``key``; ``InvalidInput`` (``wrong-key``) for any other
    key or a damaged box."""
    private: PrivateKey = SigningKey(bytes.fromhex(key.seed_hex)).to_curve25519_private_key()
    try:
        return SealedBox(private).decrypt(base64.b64decode(sealed, validate=True))
    except (CryptoError, ValueError):
        raise InvalidInput(
            f"cannot open the {what}: it is sealed to another key, or damaged", code="wrong-key"
        ) from None
