"""The fault suite's scratch space: a RAM disk where there is one.

An in-process crash drops connections rather than power, so what is tested is SQLite's
atomic commit and the operator's recovery, not the disk's fsync; on tmpfs the hundreds
of commits of a run cost CPU only.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

RAM_DISK = Path("/dev/shm")


@pytest.fixture
def fast_disk(tmp_path: Path) -> Iterator[Path]:
    if not RAM_DISK.is_dir():
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="voisin-faults-", dir=RAM_DISK))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
