"""CurveZMQ keys from Ed25519 identities, and the ZAP allow-list that guards the operator.

One identity serves both layers: a participant's Curve25519 key pair is derived from its
Ed25519 signing key (the birational map libsodium implements), so the operator's registry
of participant ids is also its list of transport keys, and an agent pins the operator's
Ed25519 id to know its CurveZMQ server key. Keys travel Z85-encoded, as ZeroMQ wants them.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import zmq
from nacl.signing import SigningKey, VerifyKey
from zmq.auth.thread import ThreadAuthenticator
from zmq.utils import z85

from voisin.errors import InvalidInput
from voisin.protocol.files import write_whole
from voisin.protocol.keys import KeyPair
from voisin.protocol.validation import read_json_file


def curve_public(participant_hex: str) -> bytes:
    """The Z85 Curve25519 public key of an Ed25519 participant id."""
    try:
        verify_key = VerifyKey(bytes.fromhex(participant_hex))
        return z85.encode(bytes(verify_key.to_curve25519_public_key()))
    except (ValueError, TypeError, Exception) as exc:  # nacl raises its own error types
        raise InvalidInput(
            f"{participant_hex[:16]!r} is not an Ed25519 public key: {exc}", code="bad-key"
        ) from None


def curve_keypair(key: KeyPair) -> tuple[bytes, bytes]:
    """``(public, secret)`` Z85 Curve25519 keys derived from ``key``."""
    signing = SigningKey(bytes.fromhex(key.seed_hex))
    secret = signing.to_curve25519_private_key()
    return z85.encode(bytes(secret.public_key)), z85.encode(bytes(secret))


def make_server(socket: zmq.Socket[bytes], key: KeyPair) -> None:
    """Make ``socket`` a CURVE server speaking as ``key`` (set before bind)."""
    public, secret = curve_keypair(key)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    socket.curve_server = True


def make_client(socket: zmq.Socket[bytes], key: KeyPair, server_hex: str) -> None:
    """Make ``socket`` a CURVE client as ``key`` that only talks to ``server_hex``."""
    public, secret = curve_keypair(key)
    socket.curve_publickey = public
    socket.curve_secretkey = secret
    socket.curve_serverkey = curve_public(server_hex)


class AllowList:
    """The ZAP credentials provider: registered Curve keys pass, everything else is
    refused and counted. Deny by default. ``revoke`` takes effect for new connections
    at once; the service calls it at the next interval boundary."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owners: dict[bytes, str] = {}
        self.refused = 0
        self.admitted = 0

    def allow(self, participant_hex: str) -> bytes:
        key = curve_public(participant_hex)
        with self._lock:
            self._owners[key] = participant_hex
        return key

    def revoke(self, participant_hex: str) -> None:
        key = curve_public(participant_hex)
        with self._lock:
            self._owners.pop(key, None)

    def owner(self, curve_z85: str | bytes) -> str | None:
        key = curve_z85.encode() if isinstance(curve_z85, str) else curve_z85
        with self._lock:
            return self._owners.get(key)

    def callback(self, domain: str, key: bytes) -> bool:
        """Called by the authenticator thread for every CURVE handshake."""
        with self._lock:
            allowed = key in self._owners
            if allowed:
                self.admitted += 1
            else:
                self.refused += 1
        return allowed


def start_authenticator(
    context: zmq.Context[zmq.Socket[bytes]], allow_list: AllowList
) -> ThreadAuthenticator:
    """Run ZAP in a thread for ``context``: every CURVE socket of it consults the list."""
    auth = ThreadAuthenticator(context)
    auth.start()
    auth.configure_curve_callback(domain="*", credentials_provider=allow_list)
    return auth


def write_key_file(path: Path, key: KeyPair, *, overwrite: bool | None = None) -> None:
    """Store an identity (seed, Ed25519 id, Curve public key) readable by its owner only:
    the one writer of a file holding a private key. The file is 0600 from creation and
    written whole or not at all (``protocol.files``). An existing file is refused
    (``key-exists``) unless ``overwrite`` (``None``: the command offers no
    ``--overwrite``), so no key is ever replaced silently."""
    public, _ = curve_keypair(key)
    data = {
        "ed25519_seed": key.seed_hex,
        "participant": key.public_hex,
        "curve_public": public.decode("ascii"),
    }
    try:
        write_whole(path, json.dumps(data, indent=2) + "\n", mode=0o600, replace=bool(overwrite))
    except FileExistsError:
        offer = (
            "pass --overwrite to replace it" if overwrite is False else "keys are never overwritten"
        )
        raise InvalidInput(f"{path} exists; {offer}", code="key-exists") from None
    except OSError as exc:
        raise InvalidInput(f"cannot write {path}: {exc.strerror}", code="bad-output") from None


def read_key_file(path: Path) -> KeyPair:
    """The identity ``write_key_file`` stored."""
    data = read_json_file(path, "key file", "bad-key")
    try:
        return KeyPair.from_seed_hex(data["ed25519_seed"])
    except (ValueError, KeyError, TypeError):
        raise InvalidInput(f"{path} is not a voisin key file", code="bad-key") from None
