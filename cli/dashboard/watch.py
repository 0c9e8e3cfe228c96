"""The operator's live counters, asked for over ZeroMQ with a read-only observer key.

The ledger shows what was committed; refusals (garbage, replays, bad signatures, CURVE
keys turned away) never reach it, so the dashboard asks the running operator for its
``status``. A silent operator is shown as unreachable, never waited on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from voisin.protocol import KeyPair
from voisin.protocol.wire import MessageType, QueryKind
from voisin.transport.client import OperatorClient, OperatorUnreachable

ASK_TIMEOUT_S = 0.5


@dataclass
class OperatorWatch:
    """Polls one operator's status; ``status`` is None until it answers."""

    endpoint: str
    key: KeyPair
    server_hex: str
    status: dict[str, Any] | None = None
    _client: OperatorClient | None = field(default=None, repr=False)

    def poll(self) -> dict[str, Any] | None:
        if self._client is None:
            self._client = OperatorClient(
                None,
                self.endpoint,
                self.key,
                self.server_hex,
                timeout_s=ASK_TIMEOUT_S,
                retries=0,
            )
        try:
            reply = self._client.request(MessageType.QUERY, {"what": QueryKind.STATUS.value})
        except OperatorUnreachable:
            self.status = None
        else:
            self.status = reply.body if reply.ok else None
        return self.status

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
