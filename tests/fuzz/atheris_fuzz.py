"""Coverage-guided fuzzing of targets with atheris (libFuzzer), where it installs.

    python tests/fuzz/atheris_fuzz.py TARGET[,TARGET...] COUNTS.json -runs=20000 [flags]

Starts from the targets' seeds (tests/fuzz/targets.py), treats ``VoisinError`` as a
refusal and anything else as a crash (libFuzzer then stops, prints the input and exits
non-zero). Several targets share one process, which pays the instrumented imports once
(nearly all of a short campaign's cost): an input's first byte picks its target, the
rest is the target's input, and each seed is prefixed with its target's byte. Runs and
refusals by code, per target, are written to COUNTS.json when the last run is done.
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
    names, counts_path, *flags = sys.argv[1:]
    runs = next((int(f.split("=", 1)[1]) for f in flags if f.startswith("-runs=")), 0)
    folder = Path(tempfile.mkdtemp(prefix="voisin-atheris-"))
    corpus = folder / "corpus"
    corpus.mkdir()
    targets = Targets(folder)
    chosen = [next(t for t in targets.all if t.name == name) for name in names.split(",")]
    for index, target in enumerate(chosen):
        for i, seed in enumerate(target.seeds):
            (corpus / f"{target.name}-{i}").write_bytes(bytes([index]) + seed)
    runs_by: Counter[str] = Counter()
    refused_by: dict[str, Counter[str]] = {t.name: Counter() for t in chosen}
    done = 0

    def one(data: bytes) -> None:
        nonlocal done
        if data:
            target = chosen[data[0] % len(chosen)]
            runs_by[target.name] += 1
            try:
                target.run(data[1:])
            except VoisinError as exc:
                refused_by[target.name][exc.code] += 1
        done += 1
        if done == runs:
            by_target = {n: {"runs": runs_by[n], "refused": r} for n, r in refused_by.items()}
            Path(counts_path).write_text(json.dumps({"runs": done, "targets": by_target}))

    atheris.Setup([sys.argv[0], *flags, str(corpus)], one)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
