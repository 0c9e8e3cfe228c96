"""Sparklines in text: a series drawn with eight block heights, for panels of any width."""

from __future__ import annotations

from collections.abc import Sequence

BLOCKS = " ▁▂▃▄▅▆▇█"


def spark(values: Sequence[float | None], width: int, low: float | None = None,
          high: float | None = None) -> str:  # fmt: skip
    """All ``values`` in ``width`` block characters scaled to [low, high] (default: their
    own range): averaged in buckets when there are more, each repeated when fewer; a
    gap (None) is a space."""
    tail = _fit(list(values), width)
    known = [v for v in tail if v is not None]
    if not known:
        return " " * len(tail)
    lo = min(known) if low is None else low
    hi = max(known) if high is None else high
    span = hi - lo
    out = []
    for v in tail:
        if v is None:
            out.append(" ")
        elif span <= 1e-12:
            out.append(BLOCKS[4])
        else:
            level = round(1 + (min(max(v, lo), hi) - lo) / span * (len(BLOCKS) - 2))
            out.append(BLOCKS[level])
    return "".join(out)


def _fit(values: list[float | None], width: int) -> list[float | None]:
    if width <= 0 or not values:
        return []
    if len(values) <= width:
        return [v for v in values for _ in range(width // len(values))]
    out: list[float | None] = []
    for k in range(width):
        bucket = [
            v
            for v in values[k * len(values) // width : (k + 1) * len(values) // width]
            if v is not None
        ]
        out.append(sum(bucket) / len(bucket) if bucket else None)
    return out
