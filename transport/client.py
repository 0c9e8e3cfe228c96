"""The agent's side of the request socket: a Lazy Pirate client (ZeroMQ guide, ch. 4).

A REQ socket that, when no reply comes within the timeout, is closed and reopened and the
*same bytes* resent (same ``seq``, so the operator answers a duplicate with the reply it
already gave), with the timeout doubling up to a cap. Timeouts, retries and sequence
numbers live here and nowhere else.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import zmq

from voisin.errors import VoisinError
from voisin.protocol.envelope import Reply, decode_reply, seal
from voisin.protocol.keys import KeyPair
from voisin.protocol.wire import (
    BACKOFF_MAX_S,
    HIGH_WATER_MARK,
    REQUEST_RETRIES,
    REQUEST_TIMEOUT_S,
    MessageType,
)
from voisin.transport.curve import make_client


class OperatorUnreachable(VoisinError):
    """No reply after every retry; the caller decides whether to carry on."""

    code = "operator-unreachable"


@dataclass
class ClientStats:
    requests: int = 0
    resends: int = 0
    reconnects: int = 0
    failures: int = 0


class OperatorClient:
    """Signed requests to one operator, pinned to its key, resent until answered.

    ``seq`` starts at the wall time in microseconds, so a restarted agent keeps sending
    numbers above those the operator has seen from it.
    """

    def __init__(
        self,
        context: zmq.Context[zmq.Socket[bytes]] | None,
        endpoint: str,
        key: KeyPair,
        server_hex: str,
        *,
        timeout_s: float = REQUEST_TIMEOUT_S,
        retries: int = REQUEST_RETRIES,
        seq_start: int | None = None,
    ) -> None:
        self.context = context if context is not None else zmq.Context.instance()
        self.endpoint = endpoint
        self.key = key
        self.server_hex = server_hex
        self.timeout_s = timeout_s
        self.retries = retries
        self.seq = time.time_ns() // 1000 if seq_start is None else seq_start
        self.stats = ClientStats()
        self._socket: zmq.Socket[bytes] | None = None
        self._connect()

    def _connect(self) -> None:
        sock = self.context.socket(zmq.REQ)
        sock.linger = 0
        sock.sndhwm = HIGH_WATER_MARK
        sock.rcvhwm = HIGH_WATER_MARK
        make_client(sock, self.key, self.server_hex)
        try:
            sock.connect(self.endpoint)
        except zmq.ZMQError as exc:
            sock.close(0)
            raise VoisinError(
                f"cannot connect to {self.endpoint}: {exc}", code="bad-endpoint"
            ) from None
        self._socket = sock

    def _reconnect(self) -> None:
        if self._socket is not None:
            self._socket.close(0)
        self.stats.reconnects += 1
        self._connect()

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def request(self, type_: MessageType, body: dict[str, Any], seq: int | None = None) -> Reply:
        """Send one request and return the operator's reply (ack or reject).

        Raises ``OperatorUnreachable`` after ``retries`` resends with back-off.
        """
        fresh = seq is None
        seq = self.next_seq() if seq is None else seq
        reply = self.send_raw(seal(self.key, type_, seq, body), seq)
        if fresh and self.catch_up(reply):
            seq = self.next_seq()
            reply = self.send_raw(seal(self.key, type_, seq, body), seq)
        return reply

    def catch_up(self, reply: Reply) -> bool:
        """After a ``replay`` refusal naming the operator's ``last_seq`` (our clock went
        back since our numbers last started), continue above it; True if the caller
        should send once more with a new number."""
        last = reply.body.get("last_seq") if not reply.ok and reply.code == "replay" else None
        if type(last) is not int:
            return False
        self.seq = max(self.seq, last)
        self.stats.resends += 1
        return True

    def send_raw(self, payload: bytes, seq: int | None = None) -> Reply:
        """Lazy Pirate for already-encoded bytes (tests send hand-made frames this way)."""
        self.stats.requests += 1
        timeout = self.timeout_s
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.resends += 1
            assert self._socket is not None  # noqa: S101 - set by _connect
            self._socket.send(payload)
            if self._socket.poll(int(timeout * 1000), zmq.POLLIN):
                reply = decode_reply(self._socket.recv())
                if seq is None or reply.re in (seq, None):
                    return reply
            self._reconnect()
            timeout = min(timeout * 2, BACKOFF_MAX_S)
        self.stats.failures += 1
        raise OperatorUnreachable(f"no reply from {self.endpoint} after {self.retries} resends")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(0)
            self._socket = None
