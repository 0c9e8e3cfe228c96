"""A city's per-ledger work (verification, audit) in this process or as Dask tasks.

One ledger's check does not depend on another's, so the same call runs either way:
``in_process`` calls each in turn, ``on_cluster(client)`` submits each as a task of its
own (the client's process only waits, which keeps a LocalCluster's scheduler, running
there, free). The results come back in the order of the calls whatever the order the
tasks finish in; ``done(n)`` is told each time one more has finished (a progress bar).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class MapLedgers(Protocol):
    def __call__(
        self,
        check: Callable[..., T],
        calls: list[tuple[Any, ...]],
        done: Callable[[int], None] | None = None,
    ) -> list[T]: ...


def in_process(
    check: Callable[..., T],
    calls: list[tuple[Any, ...]],
    done: Callable[[int], None] | None = None,
) -> list[T]:
    """Each call in turn, in this process."""
    results = []
    for call in calls:
        results.append(check(*call))
        if done is not None:
            done(len(results))
    return results


def on_cluster(client: Any) -> MapLedgers:
    """Each call a task of the Dask ``client``'s cluster."""

    def run(
        check: Callable[..., T],
        calls: list[tuple[Any, ...]],
        done: Callable[[int], None] | None = None,
    ) -> list[T]:
        from distributed import as_completed

        futures = [client.submit(check, *call, pure=False) for call in calls]
        index = {future.key: i for i, future in enumerate(futures)}
        results: list[Any] = [None] * len(futures)
        for finished, future in enumerate(as_completed(futures), start=1):  # type: ignore[no-untyped-call]
            results[index[future.key]] = future.result()
            if done is not None:
                done(finished)
        return results

    return run
