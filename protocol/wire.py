"""Wire constants of the live market: one place for versions, sizes, types and timings.

docs/protocol.md describes the same numbers for agents written in other languages; change
both together. Times are wall-clock seconds unless a name says otherwise.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

PROTOCOL_VERSION = 2
"""Bumped on any change an old peer would misread; other versions are refused.
2: frames must be RFC 8785 bytes and signatures cover them as received; seq < 2^53."""

MAX_MESSAGE_BYTES = 64 * 1024
"""Largest request frame the operator decodes; a bid of 32 segments is about 2 KiB."""

MAX_BATCH_BIDS = 100
"""Bids in one ``bids`` request (an aggregator's batch), within MAX_MESSAGE_BYTES."""

HIGH_WATER_MARK = 10_000
"""Messages queued per peer before ZeroMQ pushes back (ROUTER) or drops (PUB)."""

REQUEST_TIMEOUT_S = 1.0
"""Lazy Pirate: how long an agent waits for a reply before it resends."""
REQUEST_RETRIES = 6
"""Resends before a request is given up (with back-off doubling up to BACKOFF_MAX_S)."""
BACKOFF_MAX_S = 4.0

HEARTBEAT_S = 1.0
"""An agent says it is alive this often; the operator marks it gone after
GONE_AFTER_HEARTBEATS silent periods. A gone agent's bids stay in their book."""
GONE_AFTER_HEARTBEATS = 3

SEQ_BACKLOG = 1
"""How many past messages per sender the operator remembers for idempotent resends:
only the last accepted one, so an agent must wait for a reply before its next request."""


class MessageType(StrEnum):
    """Requests an agent sends to the operator's ROUTER socket."""

    HELLO = "hello"
    BID = "bid"
    BIDS = "bids"
    READING = "reading"
    QUERY = "query"
    HEARTBEAT = "heartbeat"


class ReplyType(StrEnum):
    """The operator answers every request with exactly one of these."""

    ACK = "ack"
    REJECT = "reject"


class EventType(StrEnum):
    """Topics on the operator's PUB socket (the first frame of every event)."""

    GATE_OPEN = "gate-open"
    GATE_CLOSED = "gate-closed"
    CLEARING = "clearing"
    BLOCK = "block"
    DELIVERY = "delivery"
    AGENT_GONE = "agent-gone"
    END = "end"


class QueryKind(StrEnum):
    """What a ``query`` request may ask for (``body.what``)."""

    STATUS = "status"
    BLOCK = "block"


class Hello(BaseModel):
    """A ``hello`` body: ``{}``, or ``{"agent": "<software name>"}`` for the logs."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    agent: str = Field(default="", max_length=64)


class Heartbeat(BaseModel):
    """A ``heartbeat`` body: ``{}``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Query(BaseModel):
    """A ``query`` body: ``{"what": "status"}`` or ``{"what": "block", "height": H}``."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    what: QueryKind = Field(strict=False)
    height: int | None = Field(default=None, ge=0)
