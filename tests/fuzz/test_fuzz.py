"""Fuzzing every decoder the network reaches and every file the CLI reads: 0 crashes.

The seeded mutation fuzzer (``mutate.py``) runs in every CI run, each target's refusals
counted by code; hypothesis feeds arbitrary bytes and arbitrary JSON to the network
decoders; ``atheris_fuzz.py`` adds coverage-guided runs where atheris installs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voisin.errors import VoisinError

from .mutate import fuzz
from .targets import Target, Targets


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Targets]:
    ram = Path("/dev/shm")  # every acknowledged request commits the journal: no fsync wait
    folder = (
        Path(tempfile.mkdtemp(prefix="voisin-fuzz-", dir=ram))
        if ram.is_dir()
        else tmp_path_factory.mktemp("fuzz")
    )
    built = Targets(folder)
    try:
        yield built
    finally:
        built.close()
        shutil.rmtree(folder, ignore_errors=True)


NAMES = [
    "request",
    "envelope",
    "reply",
    "event",
    "block",
    "trade",
    "grid-and-book",
    "registry",
    "key-file",
    "proof",
    "sealed-statement",
    "agent-settings",
    "ledger-file",
]


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_no_input_crashes_a_target(targets: Targets, name: str) -> None:
    target: Target = next(t for t in targets.all if t.name == name)
    found = fuzz(target.run, target.seeds, target.runs, seed=NAMES.index(name))
    assert found.runs == max(target.runs, len(target.seeds))
    assert not found.crashes, [(why, data[:200]) for why, data in found.crashes[:3]]
    assert found.refused, "the mutations never reached a refusal: the seeds are wrong"
    print(
        f"{name}: {found.runs} inputs, {found.accepted} accepted, refused "
        f"{dict(found.refused.most_common())}"
    )


def test_every_target_is_fuzzed(targets: Targets) -> None:
    assert sorted(t.name for t in targets.all) == sorted(NAMES)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
FIELDS = st.fixed_dictionaries(
    {}, optional={k: JSON for k in ("v", "type", "sender", "seq", "body", "sig")}
)
SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _only_refusals(run, data: bytes) -> None:
    try:
        run(data)
    except VoisinError:
        pass


@SETTINGS
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes(targets: Targets, data: bytes) -> None:
    for name in ("request", "reply", "event", "block"):
        _only_refusals(next(t for t in targets.all if t.name == name).run, data)


@pytest.mark.slow
@SETTINGS
@given(envelope=FIELDS)
def test_arbitrary_json_envelopes(targets: Targets, envelope: dict) -> None:
    data = json.dumps(envelope, allow_nan=True).encode()
    for name in ("request", "reply", "event"):
        _only_refusals(next(t for t in targets.all if t.name == name).run, data)


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None, reason="atheris does not install on this platform"
)
def test_coverage_guided_runs_find_no_crash(tmp_path: Path) -> None:
    """Four targets in one atheris process (its instrumented imports are nearly all the
    cost of 10,000 runs), each reaching its refusals."""
    names = ["request", "block", "registry", "proof"]
    counts = tmp_path / "counts.json"
    done = subprocess.run(
        [
            sys.executable,
            str(Path(__file__).with_name("atheris_fuzz.py")),
            ",".join(names),
            str(counts),
            "-runs=10000",
            "-seed=1",
            "-max_len=8192",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # atheris instruments the code itself; coverage's tracer on top of it would only
        # slow the runs down, and fuzzing is not what the coverage figure counts
        env={k: v for k, v in os.environ.items() if not k.startswith("COVERAGE_")},
    )
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(counts.read_text())
    assert found["runs"] == 10000
    for name in names:
        target = found["targets"][name]
        assert target["runs"] >= 500, f"atheris hardly reached {name}: {found}"
        assert target["refused"], f"atheris never reached a refusal of {name}"
    print(f"atheris: {found}")
