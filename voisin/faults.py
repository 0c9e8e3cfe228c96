"""Named crash points for the fault suite (tests/faults/): no-ops unless armed.

The operator passes ``point(name)`` where a crash is most telling: at gate closure,
between a clearing and its block, inside a block's database transaction, between a
journal commit and the replies it makes true. A test arms a hook that raises at the
n-th pass (an in-process crash: the harness then drops every connection, as a killed
process would, and resumes on the same files); ``VOISIN_CRASH_AT=name:n`` in a child's
environment makes the child SIGKILL itself at the n-th pass of ``name``, a real crash
at an exact point. The file writers pass ``FILE_POINTS`` once a file or a run's folder
is whole under its staging name, before it moves in (tests/cli/test_written_files.py).
Unarmed, a point costs one global lookup.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable

POINTS = (
    "gate-closure",  # Operator.close_gate, before the clearing
    "cleared",  # the clearing is done, its block not yet written
    "block-write",  # inside the block's database transaction, before COMMIT
    "block-written",  # the block is committed, the book not yet dropped
    "settlement",  # Operator.settle, before its block
    "journal-commit",  # inside the journal's transaction, before COMMIT
    "journal-committed",  # a batch is durable, its replies not yet sent
)
"""Every crash point of the operator, in the order one interval passes them."""
FILE_POINTS = (
    "staged-file",  # a file written whole under its staging name, not yet moved
    "staged-output",  # a run's output folder staged, not yet moved into --out
)
"""The file writers' crash points (``protocol.files``, ``cli.outputs.StagedOutput``)."""

_hook: Callable[[str], None] | None = None


def point(name: str) -> None:
    """A place where the process may die (see the module docstring)."""
    if _hook is not None:
        _hook(name)


def arm(hook: Callable[[str], None] | None) -> None:
    """Call ``hook(name)`` at every point from now on (None disarms)."""
    global _hook
    _hook = hook


def _kill_at(spec: str) -> Callable[[str], None]:
    name, _, count = spec.partition(":")
    known = (*POINTS, *FILE_POINTS)
    if name not in known or not count.isdigit() or int(count) < 1:
        raise ValueError(f"VOISIN_CRASH_AT={spec!r}: want NAME:N with NAME in {known}")
    left = int(count)

    def hook(passed: str) -> None:
        nonlocal left
        if passed == name:
            left -= 1
            if left == 0:
                os.kill(os.getpid(), signal.SIGKILL)

    return hook


if os.environ.get("VOISIN_CRASH_AT"):
    arm(_kill_at(os.environ["VOISIN_CRASH_AT"]))
