"""Sealing bytes to one key: PyNaCl ``SealedBox`` to an Ed25519 id's Curve25519 form.

A statement, a whole meter reading or a pseudonym's link to its member leaves the
operator sealed this way (docs/privacy.md): anyone may carry or store the box, only the
holder of the matching private key can open it, and nobody else can tell what is inside.
A box is randomised (a fresh ephemeral key each time, libsodium ``crypto_box_seal``), so
sealed boxes are never part of what a deterministic ledger hashes.

A box is as long as what it holds plus 48 bytes, so the plaintext is padded first to the
fixed size its kind of record is given (``padded_to``): every reading, every link and
every statement of as many lines seals to one length, and the length tells nothing of
the digits, the registers or the battery inside. The padding is ISO/IEC 7816-4's (as
libsodium's ``sodium_pad`` writes it: one 0x80 byte, then 0x00 up to the size), which the
opener strips unambiguously; a record that does not fit its size is refused, never
sealed to a length of its own.
"""

from __future__ import annotations

import base64
import json
from functools import lru_cache
from typing import Any, Final

from nacl.bindings import sodium_pad, sodium_unpad
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey

from voisin.errors import InvalidInput
from voisin.protocol.keys import KeyPair

PADDED_VERSION: Final = 2
"""The ``version`` of a sealed record or statement whose plaintext is padded; version 1
boxes, sealed before padding, open as they are (``open_sealed(padded=False)``)."""


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


def seal_to(recipient: str, data: bytes, *, padded_to: int, what: str = "record") -> str:
    """``data`` padded to ``padded_to`` bytes and sealed to ``recipient``'s key, base64:
    a box of ``padded_to + 48`` bytes whatever ``data`` is. ``InvalidInput``
    (``record-too-large``) when ``data`` leaves no room for the padding's 0x80 byte."""
    if len(data) >= padded_to:
        raise InvalidInput(
            f"the {what} is {len(data)} bytes, more than the {padded_to - 1} its kind is "
            "sealed in: refused rather than sealed to a length that tells it apart",
            code="record-too-large",
        )
    box = SealedBox(curve_public(recipient)).encrypt(sodium_pad(data, padded_to))
    return base64.b64encode(box).decode("ascii")


def open_sealed(
    sealed: str, key: KeyPair, what: str = "sealed record", *, padded: bool = True
) -> bytes:
    """Open a base64 box with ``key`` and strip its padding; ``InvalidInput``
    (``wrong-key``) for any other key or a damaged box. ``padded`` False: a box sealed
    before records were padded (a version-1 record), opened as it is."""
    private: PrivateKey = SigningKey(bytes.fromhex(key.seed_hex)).to_curve25519_private_key()
    try:
        clear = SealedBox(private).decrypt(base64.b64decode(sealed, validate=True))
    except (CryptoError, ValueError):
        raise InvalidInput(
            f"cannot open the {what}: it is sealed to another key, or damaged", code="wrong-key"
        ) from None
    if not padded:
        return clear
    try:
        return sodium_unpad(clear, max(len(clear), 1))
    except CryptoError:
        raise InvalidInput(
            f"the {what} opens but its padding is damaged", code="bad-padding"
        ) from None


def open_sealed_json(
    sealed: str, key: KeyPair, what: str = "sealed record", *, padded: bool = True
) -> Any:
    """``open_sealed``, its bytes read as JSON: ``InvalidInput`` (``bad-padding``) when
    they are not (a padded box marked as sealed before padding, or a damaged one)."""
    clear = open_sealed(sealed, key, what, padded=padded)
    try:
        return json.loads(clear)
    except (ValueError, RecursionError):
        raise InvalidInput(
            f"the {what} opens but is not JSON: its padding or its version is damaged",
            code="bad-padding",
        ) from None
