"""Plain inline SVG charts for the HTML report: no script, no library, no network.

Each chart is a string of SVG with its axes, ticks and legend drawn here; every point
or bar carries a ``<title>``, which a browser shows as a tooltip.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 860, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 40
PALETTE = (
    "#1b6ca8",
    "#e07b24",
    "#3a9e4f",
    "#c23b3b",
    "#7d5ba6",
    "#8c564b",
    "#d16ba5",
    "#5f6b6d",
    "#b5a41f",
    "#1fa5b5",
)

Series = Mapping[str, Sequence[float | None]]


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (Heckbert's 'nice numbers', Graphics Gems 1990)."""
    span = high - low
    if span <= 0:
        return [low]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) / step + 1e-9) + 1)]


def _range(values: list[float], floor_zero: bool) -> tuple[float, float]:
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    if floor_zero:
        low, high = min(low, 0.0), max(high, 0.0)
    if high - low < 1e-12:
        low, high = low - 0.5, high + 0.5
    pad = (high - low) * 0.05
    return (low if floor_zero and low == 0 else low - pad), (
        high if floor_zero and high == 0 else high + pad
    )


def _frame(
    labels: Sequence[str], low: float, high: float, y_label: str, fmt: str
) -> tuple[list[str], float, float]:
    """Axes, grid lines and tick labels; returns the parts and the plot's inner size."""
    w, h = WIDTH - _LEFT - _RIGHT, HEIGHT - _TOP - _BOTTOM
    parts = [f'<rect x="{_LEFT}" y="{_TOP}" width="{w}" height="{h}" fill="#fbfbfb"/>']
    for tick in _ticks(low, high):
        y = _TOP + h * (1 - (tick - low) / (high - low))
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{tick:{fmt}}</text>'
        )
    step = max(1, math.ceil(len(labels) / 12))
    for i in range(0, len(labels), step):
        x = _LEFT + w * (i + 0.5) / max(len(labels), 1)
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - _BOTTOM + 16}" text-anchor="middle">'
            f"{escape(labels[i])}</text>"
        )
    parts.append(
        f'<text x="14" y="{_TOP + h / 2:.1f}" text-anchor="middle" '
        f'transform="rotate(-90 14 {_TOP + h / 2:.1f})">{escape(y_label)}</text>'
    )
    return parts, w, h


def _svg(parts: list[str], title: str) -> str:
    body = "".join(parts)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">{body}</svg>'
    )


def legend(names: Sequence[str]) -> str:
    """An HTML legend matching the palette order of the series."""
    items = "".join(
        f'<span class="key"><i style="background:{PALETTE[i % len(PALETTE)]}"></i>'
        f"{escape(name)}</span>"
        for i, name in enumerate(names)
    )
    return f'<div class="legend">{items}</div>'


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Series,
    y_label: str,
    fmt: str = ".2f",
    floor_zero: bool = False,
    guides: Sequence[float] = (),
) -> str:
    """One polyline per series over the x ``labels``; ``None`` leaves a gap."""
    values = [v for s in series.values() for v in s if v is not None] + list(guides)
    low, high = _range(values, floor_zero)
    parts, w, h = _frame(labels, low, high, y_label, fmt)
    n = max(len(labels), 1)

    def xy(i: int, v: float) -> str:
        return f"{_LEFT + w * (i + 0.5) / n:.1f},{_TOP + h * (1 - (v - low) / (high - low)):.1f}"

    for g in guides:
        y = _TOP + h * (1 - (g - low) / (high - low))
        parts.append(
            f'<line x1="{_LEFT}" x2="{_LEFT + w}" y1="{y:.1f}" y2="{y:.1f}" '
            'stroke="#c23b3b" stroke-dasharray="4 3"/>'
        )
    for k, (name, points) in enumerate(series.items()):
        colour = PALETTE[k % len(PALETTE)]
        runs: list[list[str]] = [[]]
        for i, v in enumerate(points):
            if v is None:
                runs.append([])
            else:
                runs[-1].append(xy(i, v))
        for run in runs:
            if run:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" '
                    f'points="{" ".join(run)}"><title>{escape(name)}</title></polyline>'
                )
        if len(labels) <= 200:
            for i, v in enumerate(points):
                if v is not None:
                    c = xy(i, v).split(",")
                    parts.append(
                        f'<circle cx="{c[0]}" cy="{c[1]}" r="2" fill="{colour}">'
                        f"<title>{escape(name)} {escape(labels[i])}: {v:{fmt}}</title></circle>"
                    )
    return _svg(parts, title)


def bar_chart(
    title: str,
    labels: Sequence[str],
    series: Series,
    y_label: str,
    fmt: str = ".2f",
    stacked: bool = False,
) -> str:
    """Bars per x label, side by side or ``stacked`` (values >= 0 when stacked)."""
    n, k = max(len(labels), 1), max(len(series), 1)
    if stacked:
        totals = [sum((s[i] or 0.0) for s in series.values()) for i in range(len(labels))]
        values = totals
    else:
        values = [v for s in series.values() for v in s if v is not None]
    low, high = _range(values, floor_zero=True)
    parts, w, h = _frame(labels, low, high, y_label, fmt)
    slot = w / n

    def y_of(v: float) -> float:
        return _TOP + h * (1 - (v - low) / (high - low))

    base = [0.0] * len(labels)
    for j, (name, points) in enumerate(series.items()):
        colour = PALETTE[j % len(PALETTE)]
        for i, v in enumerate(points):
            if v is None:
                continue
            if stacked:
                x, width = _LEFT + slot * i + slot * 0.1, slot * 0.8
                top, bottom = y_of(base[i] + v), y_of(base[i])
                base[i] += v
            else:
                x, width = _LEFT + slot * i + slot * 0.1 + slot * 0.8 * j / k, slot * 0.8 / k
                top, bottom = sorted((y_of(v), y_of(0.0)))
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{max(width, 0.5):.1f}" '
                f'height="{max(bottom - top, 0.0):.1f}" fill="{colour}">'
                f"<title>{escape(name)} {escape(labels[i])}: {v:{fmt}}</title></rect>"
            )
    return _svg(parts, title)
