"""Coverage-guided fuzzing of one target with atheris (libFuzzer), where it installs.

    python tests/fuzz/atheris_fuzz.py TARGET COUNTS.json -runs=20000 [libFuzzer flags]

Starts from the target's seeds (tests/fuzz/targets.py), treats ``VoisinError`` as a
refusal and anything else as a crash (libFuzzer then stops, prints the input and exits
non-zero). Refusals by code are written to COUNTS.json when the last run is done.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
with atheris.instrument_imports(include=["voisin"]):
    from tests.fuzz.targets import Targets
    from voisin.errors import VoisinError


def main() -> None:
    name, counts_path, *flags = sys.argv[1:]
    runs = next((int(f.split("=", 1)[1]) for f in flags if f.startswith("-runs=")), 0)
    folder = Path(tempfile.mkdtemp(prefix="voisin-atheris-"))
    corpus = folder / "corpus"
    corpus.mkdir()
    targets = Targets(folder)
    target = next(t for t in targets.all if t.name == name)
    for i, seed in enumerate(target.seeds):
        (corpus / f"seed-{i}").write_bytes(seed)
    refused: Counter[str] = Counter()
    done = 0

    def one(data: bytes) -> None:
        nonlocal done
        try:
            target.run(data)
        except VoisinError as exc:
            refused[exc.code] += 1
        done += 1
        if done == runs:
            Path(counts_path).write_text(json.dumps({"runs": done, "refused": refused}))

    atheris.Setup([sys.argv[0], *flags, str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
