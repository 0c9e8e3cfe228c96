"""Soak: 1,000 agents over CurveZMQ for a whole accelerated day, watching the operator.

    python benchmarks/soak.py [--members 1000] [--groups 4] [--intervals 96] [--speed 300]

The operator is the real `voisin operator` process. The members (999 households and the
school of the demo neighbourhood) are played by a few group processes, each holding
its members' keys and one CURVE connection (DEALER) per member, answering every
gate-open with one signed bid per member and every delivery with one meter-signed
reading, all pipelined. The driver samples the operator's resident memory (VmRSS)
once a second; the groups time every request from send to ack.

The table: RSS after warm-up and at the end (growth in %, target < 10 %), requests
acknowledged per second of intake, p50/p99 ack latency, refusals by code, and lost
messages: acknowledged bids missing from their interval's committed book (checked
against each block's bids_root) and acknowledged readings missing from settlements.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import zmq

from voisin.agents import default_neighbourhood
from voisin.cli.live import child_command, free_port
from voisin.ledger import SqliteStore
from voisin.ledger.store import sqlite_files
from voisin.meters import Meter
from voisin.protocol import Bid, TxKind, canonical_bytes
from voisin.protocol.envelope import decode_reply, seal, seal_bid, sign_bid
from voisin.protocol.merkle import root as merkle_root
from voisin.protocol.wire import EventType, MessageType
from voisin.transport.curve import make_client

SEED = 7


def _group(args: argparse.Namespace) -> None:
    """One group process: members ``index::groups`` of the scenario."""
    scenario = default_neighbourhood(args.members - 1, SEED)
    mine = scenario.members[args.index :: args.groups]
    server = scenario.operator.public_hex
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    make_client(sub, mine[0].keypair, server)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(args.pub)
    socks, poller = [], zmq.Poller()
    for m in mine:
        s = ctx.socket(zmq.DEALER)
        s.linger = 0
        make_client(s, m.keypair, server)
        s.connect(args.router)
        socks.append(s)
        poller.register(s, zmq.POLLIN)
    seq = {m.id: time.time_ns() // 1000 for m in mine}
    latencies: list[float] = []
    refused: Counter[str] = Counter()
    acked_bids: list[dict] = []
    acked_readings: list[tuple[str, str]] = []
    bursts: list[tuple[float, float, int]] = []
    """(first send, last reply, requests) of every gate's or delivery's exchange."""

    def next_seq(member: str) -> int:
        seq[member] += 1
        return seq[member]

    def exchange(requests: list[tuple[int, bytes, object]]) -> None:
        """Send every (socket index, payload, what) at once, then collect the replies."""
        sent: dict[int, tuple[float, object]] = {}
        start = time.time()
        for i, payload, what in requests:
            socks[i].send_multipart([b"", payload])
            sent[i] = (time.perf_counter(), what)
        deadline = time.monotonic() + 30
        while sent and time.monotonic() < deadline:
            for sock, _ in poller.poll(1000):
                i = socks.index(sock)
                reply = decode_reply(sock.recv_multipart()[-1])
                began, what = sent.pop(i)
                latencies.append(time.perf_counter() - began)
                if not reply.ok:
                    refused[reply.code] += 1
                elif isinstance(what, Bid):
                    acked_bids.append(what.model_dump(mode="json"))
                else:
                    acked_readings.append(what)  # type: ignore[arg-type]
        refused["no-reply"] += len(sent)
        bursts.append((start, time.time(), len(requests)))

    for i, m in enumerate(mine):  # hello, so the operator's --wait-agents counts us
        socks[i].send_multipart([b"", seal(m.keypair, MessageType.HELLO, next_seq(m.id), {})])
    for sock in socks:
        sock.recv_multipart()
    while True:
        event = json.loads(sub.recv_multipart()[-1])
        kind, body = event["type"], event["body"]
        if kind == EventType.GATE_OPEN:
            interval = body["interval"]
            requests = []
            for i, m in enumerate(mine):
                pick = random.Random(f"{interval}/{m.id}")
                bid = sign_bid(
                    m.keypair,
                    Bid(
                        bid_id=f"{interval}/{m.id[:12]}",
                        participant=m.id,
                        bus=m.participant.bus,
                        interval=interval,
                        side="sell" if pick.random() < 0.45 else "buy",
                        segments=(
                            {
                                "energy_kwh": round(pick.uniform(0.1, 2.0), 3),
                                "price_eur_per_kwh": round(pick.uniform(0.06, 0.32), 3),
                            },
                        ),
                    ),
                    next_seq(m.id),
                )
                requests.append((i, seal_bid(bid), bid))
            exchange(requests)
        elif kind == EventType.DELIVERY:
            interval = body["interval"]
            requests = []
            for i, m in enumerate(mine):
                pick = random.Random(f"reading/{interval}/{m.id}")
                reading = Meter(m.meter_key, m.id).read(
                    interval, pick.uniform(0, 3), pick.uniform(0, 3)
                )
                requests.append(
                    (
                        i,
                        seal(
                            m.keypair,
                            MessageType.READING,
                            next_seq(m.id),
                            {"reading": reading.model_dump(mode="json")},
                        ),
                        (interval, m.id),
                    )
                )
            exchange(requests)
        elif kind == EventType.END:
            break
    Path(args.out).write_text(
        json.dumps(
            {
                "latencies": latencies,
                "refused": refused,
                "bursts": bursts,
                "bids": acked_bids,
                "readings": acked_readings,
            }
        )
    )
    ctx.destroy(linger=0)


def _rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _lost(ledger: Path, results: list[dict]) -> tuple[int, int]:
    """Acknowledged bids not in their committed book, acknowledged readings not settled."""
    roots, settled = {}, set()
    with SqliteStore(ledger, read_only=True) as store:
        for _, _, kind, body, _ in store.raw_transactions():
            data = json.loads(body)
            if kind == TxKind.BID_DIGEST.value:
                roots[data["interval"]] = data["bids_root"]
            elif kind == TxKind.READING.value:
                settled.add((data["interval"], data["participant"]))
    by_interval: dict[str, list[Bid]] = {}
    for r in results:
        for dump in r["bids"]:
            bid = Bid.model_validate(dump)
            by_interval.setdefault(bid.interval, []).append(bid)
    lost_bids = 0
    for interval, bids in by_interval.items():
        ordered = sorted(bids, key=lambda b: b.bid_id)
        if roots.get(interval) != merkle_root([canonical_bytes(b) for b in ordered]).hex():
            lost_bids += len(bids)  # the interval's book is not the acknowledged one
    lost_readings = sum((i, p) not in settled for r in results for i, p in r["readings"])
    return lost_bids, lost_readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--intervals", type=int, default=96)
    parser.add_argument("--speed", type=float, default=300.0)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/voisin-soak"))
    parser.add_argument("--group-index", dest="index", type=int, default=None)
    parser.add_argument("--router")
    parser.add_argument("--pub")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.index is not None:
        _group(args)
        return
    args.folder.mkdir(parents=True, exist_ok=True)
    ledger = args.folder / "ledger.sqlite"
    for stale in sqlite_files(ledger):
        stale.unlink(missing_ok=True)
    port = free_port()
    router, pub = f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{port + 1}"
    began = time.monotonic()
    operator = subprocess.Popen(
        child_command(
            "operator",
            "--households",
            str(args.members - 1),
            "--seed",
            str(SEED),
            "--intervals",
            str(args.intervals),
            "--speed",
            str(args.speed),
            "--router",
            router,
            "--pub",
            pub,
            "--ledger",
            str(ledger),
            "--wait-agents",
            str(args.members),
        ),
        stdout=subprocess.DEVNULL,
    )
    groups = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--members",
                str(args.members),
                "--groups",
                str(args.groups),
                "--group-index",
                str(i),
                "--router",
                router,
                "--pub",
                pub,
                "--out",
                str(args.folder / f"group-{i}.json"),
            ]
        )
        for i in range(args.groups)
    ]
    samples: list[tuple[float, int]] = []
    while operator.poll() is None:
        samples.append((time.monotonic() - began, _rss_kb(operator.pid)))
        time.sleep(1.0)
    for g in groups:
        g.wait(timeout=120)
    wall = time.monotonic() - began
    results = [
        json.loads((args.folder / f"group-{i}.json").read_text()) for i in range(args.groups)
    ]
    latencies = sorted(x for r in results for x in r["latencies"])
    refused = sum((Counter(r["refused"]) for r in results), Counter())
    acked = sum(len(r["bids"]) + len(r["readings"]) for r in results)
    lost_bids, lost_readings = _lost(ledger, results)
    warm = [kb for t, kb in samples if t >= samples[-1][0] * 0.25] or [samples[-1][1]]
    first, last, peak = warm[0], samples[-1][1], max(kb for _, kb in samples)
    # The groups' exchanges of one gate (or delivery) overlap: merge them by order.
    merged = [
        (min(b[k][0] for b in bursts), max(b[k][1] for b in bursts), sum(b[k][2] for b in bursts))
        for bursts in [[r["bursts"] for r in results]]
        for k in range(min(len(b) for b in bursts))
    ]
    rates = sorted(n / max(t1 - t0, 1e-6) for t0, t1, n in merged)
    print(
        f"members {args.members} in {args.groups} processes, {args.intervals} intervals at "
        f"speed {args.speed:g}, wall {wall:.0f} s, operator exit {operator.returncode}"
    )
    print("| measure | value |\n| --- | --- |")
    print(f"| operator RSS after warm-up (25 % of the run) | {first / 1024:.1f} MB |")
    print(
        f"| operator RSS at the end | {last / 1024:.1f} MB "
        f"({100 * (last - first) / first:+.1f} %) |"
    )
    print(f"| operator RSS peak | {peak / 1024:.1f} MB |")
    print(f"| requests acknowledged | {acked:,} (refused {dict(refused)}) |")
    print(
        f"| requests per second while a gate or delivery is served (median burst of "
        f"{args.members}) | {rates[len(rates) // 2]:,.0f} |"
    )
    print(
        f"| acknowledged per second of the whole run (idle time included) | {acked / wall:,.0f} |"
    )
    print(
        f"| ack latency p50 / p99 / max | {1000 * latencies[len(latencies) // 2]:.1f} / "
        f"{1000 * latencies[int(len(latencies) * 0.99)]:.1f} / {1000 * latencies[-1]:.1f} ms |"
    )
    print(f"| lost: acknowledged bids / readings | {lost_bids} / {lost_readings} |")
    print(
        f"(RSS samples every 1 s: "
        f"{[round(kb / 1024) for _, kb in samples[:: max(1, len(samples) // 12)]]} MB)"
    )
    os.sync()


if __name__ == "__main__":
    main()
