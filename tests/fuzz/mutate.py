"""A seeded mutation fuzzer: deterministic, no coverage feedback, runs anywhere.

Each input is a seed (a valid message or file) changed by a few random mutations, at
the byte level (bit flips, interesting bytes, inserted, deleted or repeated runs,
splices with another seed, truncation) or, for JSON, at the value level (a field
dropped, misspelt, duplicated, its value swapped for one of another type, a huge
string, a deep nest), so both the parsers and the validation behind them are reached.
A target refuses an input by raising ``VoisinError``; anything else is a crash.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from voisin.errors import VoisinError

ODD_VALUES: tuple[Any, ...] = (
    None,
    True,
    False,
    0,
    -1,
    2**63,
    -(2**64),
    1e308,
    -1e308,
    0.5,
    "0.5",
    "",
    "x" * 30_000,
    [],
    {},
    [[[[]]]],
    {"": None},
    "NaN",
    "\u0000",
    "\ud800",
    "é" * 3,
    1.0,
    "true",
)


@dataclass
class Findings:
    """What a target did with the inputs: refusals by code, and crashes with inputs."""

    refused: Counter[str] = field(default_factory=Counter)
    accepted: int = 0
    crashes: list[tuple[str, bytes]] = field(default_factory=list)

    @property
    def runs(self) -> int:
        return self.accepted + sum(self.refused.values()) + len(self.crashes)


def _json_mutation(rng: random.Random, value: Any, depth: int = 0) -> Any:
    """One value-level change somewhere inside ``value`` (a decoded JSON document)."""
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(sorted(value))
        action = rng.randrange(5)
        out = dict(value)
        if action == 0:
            del out[key]
        elif action == 1:
            out[key + rng.choice(("_", "x", "s"))] = out.pop(key)
        elif action == 2:
            out[rng.choice(("extra", "kind", key + "2", "sig"))] = rng.choice(ODD_VALUES)
        elif action == 3:
            out[key] = rng.choice(ODD_VALUES)
        else:
            out[key] = _json_mutation(rng, value[key], depth + 1)
        return out
    if isinstance(value, list) and value and rng.random() < 0.8:
        out = list(value)
        i = rng.randrange(len(out))
        action = rng.randrange(4)
        if action == 0:
            del out[i]
        elif action == 1:
            out.append(out[i])
        elif action == 2:
            out[i] = rng.choice(ODD_VALUES)
        else:
            out[i] = _json_mutation(rng, out[i], depth + 1)
        return out
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float) and rng.random() < 0.5:
        return rng.choice(
            (
                value * -1,
                value + 1e-9,
                str(value),
                int(value) if isinstance(value, float) and value == value else value / 3,
            )
        )
    return rng.choice(ODD_VALUES)


def _byte_mutation(rng: random.Random, data: bytearray, seeds: Sequence[bytes]) -> None:
    action = rng.randrange(7)
    at = rng.randrange(len(data) + 1)
    if action == 0 and data:
        i = rng.randrange(len(data))
        data[i] ^= 1 << rng.randrange(8)
    elif action == 1 and data:
        data[rng.randrange(len(data))] = rng.choice(b'\x00\xff"{}[],:\\0-9e.')
    elif action == 2:
        data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif action == 3 and data:
        del data[at : at + rng.randint(1, 16)]
    elif action == 4 and data:
        chunk = data[at : at + rng.randint(1, 32)]
        data[at:at] = chunk * rng.randint(1, 4)
    elif action == 5:
        other = rng.choice(seeds)
        cut = rng.randrange(len(other) + 1)
        data[at:] = other[cut:]
    elif data:
        del data[rng.randrange(len(data)) :]


def mutate(rng: random.Random, seeds: Sequence[bytes]) -> bytes:
    """One fuzz input from ``seeds``."""
    seed = rng.choice(seeds)
    if rng.random() < 0.5:
        try:
            value = json.loads(seed)
        except (ValueError, UnicodeDecodeError):
            value = None
        if value is not None:
            for _ in range(rng.randint(1, 3)):
                value = _json_mutation(rng, value)
            if rng.random() < 0.05:
                value = [value] * 1 if rng.random() < 0.5 else {"deep": "[" * 5000}
            return json.dumps(
                value,
                sort_keys=rng.random() < 0.5,
                separators=rng.choice(((",", ":"), (", ", ": "))),
                ensure_ascii=rng.random() < 0.5,
            ).encode("utf-8", "surrogatepass")
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        _byte_mutation(rng, data, seeds)
    if rng.random() < 0.02:
        data = bytearray(b"[" * 100_000)
    return bytes(data)


def fuzz(run: Callable[[bytes], object], seeds: Sequence[bytes], runs: int, seed: int) -> Findings:
    """Feed ``runs`` mutated inputs (seeds first, unchanged) to ``run``."""
    rng = random.Random(seed)
    found = Findings()
    inputs = list(seeds) + [mutate(rng, seeds) for _ in range(max(0, runs - len(seeds)))]
    for data in inputs:
        try:
            run(data)
            found.accepted += 1
        except VoisinError as exc:
            found.refused[exc.code] += 1
        except Exception as exc:  # noqa: BLE001 - a crash is what we are looking for
            found.crashes.append((f"{type(exc).__name__}: {exc}"[:300], data))
    return found
