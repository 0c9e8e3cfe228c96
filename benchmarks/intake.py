"""Bid intake: signed bids per second one operator process accepts over CurveZMQ.

Several client processes each pre-sign their bids (envelope and bid signatures), then
pipeline them through a DEALER socket with a window of requests in flight, and count the
acks. The same run measures the bare Ed25519 signature-check rate on this machine and the
service's per-request cost without sockets, so the table shows where the time goes.

    /tmp/venv/bin/python benchmarks/intake.py --clients 3 --bids 20000
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

import zmq

from voisin.agents import default_neighbourhood
from voisin.cli.live import free_port
from voisin.protocol import Bid, KeyPair, Segment, Side, verify
from voisin.protocol.clock import Phase
from voisin.protocol.envelope import decode_reply, seal, seal_bid, sign_bid
from voisin.protocol.wire import MessageType
from voisin.transport.curve import make_client
from voisin.transport.service import DRAIN_BATCH, OperatorService, ServiceConfig

SEED = 1
_ACK = b'"type":"ack"'
WINDOW = 2000
"""Requests a client keeps in flight; below the operator's high-water mark."""


def _config(clients: int, port: int, folder: Path) -> ServiceConfig:
    return ServiceConfig(
        households=clients,
        seed=SEED,
        intervals=4,
        router=f"tcp://127.0.0.1:{port}",
        pub=f"tcp://127.0.0.1:{port + 1}",
        ledger=folder / "ledger.sqlite",
    )


def _signed_bids(member_index: int, clients: int, count: int, batch: int = 1) -> list[bytes]:
    """``count`` self-signed bids as request frames: one bid per frame, or ``batch``
    bids per ``bids`` request (an aggregator's way: transport paid once per batch)."""
    scenario = default_neighbourhood(clients, SEED)
    member = scenario.members[member_index]
    interval = _config(clients, 0, Path()).start.strftime("%Y-%m-%dT%H:%MZ")
    bids = []
    for seq in range(1, count + 1):
        bid = Bid(
            bid_id=f"{interval}/{member.id[:12]}/{seq}",
            participant=member.id,
            bus=member.bus,
            interval=interval,
            side=Side.BUY if seq % 2 else Side.SELL,
            # buys below sells: a member's own crossing bids are refused (self-trade)
            segments=(
                Segment(
                    energy_kwh=0.25, price_eur_per_kwh=(0.04 if seq % 2 else 0.2) + seq % 7 / 100
                ),
            ),
        )
        bids.append(sign_bid(member.keypair, bid, seq))
    if batch == 1:
        return [seal_bid(bid) for bid in bids]
    return [
        seal(
            member.keypair,
            MessageType.BIDS,
            n + 1,
            {"bids": [b.model_dump(mode="json") for b in bids[i : i + batch]]},
        )
        for n, i in enumerate(range(0, count, batch))
    ]


def _operator(config: ServiceConfig, ready: mp.Event, stop: mp.Event, out: mp.Queue) -> None:
    service = OperatorService(config)
    service.run_phase(Phase.OPEN_GATE, service.intervals[0])
    ready.set()
    try:
        busy = 0.0
        while not stop.is_set():
            before = time.process_time()  # every thread of the process, I/O threads too
            service.serve_once(50)
            if service.counters.received:
                busy += time.process_time() - before
        out.put({**service.status()["counters"], "cpu_s": round(busy, 3)})
    finally:
        service.close()


def _client(
    index: int,
    clients: int,
    count: int,
    batch: int,
    router: str,
    server: str,
    go: mp.Barrier,
    out: mp.Queue,
) -> None:
    frames = _signed_bids(index, clients, count, batch)
    key = default_neighbourhood(clients, SEED).members[index].keypair
    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.linger = 0
    sock.sndhwm = sock.rcvhwm = 0
    make_client(sock, key, server)
    sock.connect(router)
    window = max(1, WINDOW // batch)
    go.wait()
    start = time.perf_counter()
    sent = replies = acked = 0
    while replies < len(frames):
        while sent < len(frames) and sent - replies < window:
            sock.send(frames[sent])
            sent += 1
        if not sock.poll(5000):
            break
        while True:
            try:
                data = sock.recv(zmq.NOBLOCK)
            except zmq.Again:
                break
            replies += 1
            # Replies are canonical JSON: the client spends its CPU share on sending,
            # not on parsing acks (the first reply of each client is fully decoded).
            if replies == 1:
                reply = decode_reply(data)
                acked += reply.body.get("accepted", 1) if reply.ok else 0
            elif batch == 1:
                acked += _ACK in data
            else:
                acked += int(data.split(b'"accepted":', 1)[1].split(b",", 1)[0])
    out.put((start, time.perf_counter(), acked, count - acked))
    sock.close(0)
    context.term()


def bare_verify_rate(samples: int = 8000) -> float:
    """Checks per CPU second of this (one) thread: the yardstick of a column in CPU
    seconds. Timed by the wall clock it moved by up to 1.5x between runs a minute apart
    on a loaded machine, and the ratio column with it (docs/performance.md, round 8)."""
    key = KeyPair.derive("bench")
    message = b"x" * 300
    signature = key.sign(message)
    start = time.process_time()
    for _ in range(samples):
        verify(key.public_hex, message, signature)
    return samples / (time.process_time() - start)


def in_process_rate(clients: int, batch: int, samples: int = 3000) -> tuple[float, float]:
    """The service's ``handle_batch`` on pre-signed bids, ``batch`` requests per call as
    the loop drains them, no sockets: the application's ceiling. Bids per wall second
    and per CPU second of the process (both verify threads counted)."""
    with tempfile.TemporaryDirectory() as folder:
        service = OperatorService(_config(clients, free_port(), Path(folder)))
        try:
            service.run_phase(Phase.OPEN_GATE, service.intervals[0])
            frames = _signed_bids(0, clients, samples)
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(0, len(frames), batch):
                service.intake.handle_batch([(frame, None) for frame in frames[i : i + batch]])
            elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
            assert service.counters.accepted == samples, service.counters  # noqa: S101
        finally:
            service.close()
    return samples / elapsed, samples / cpu


def _over_curve(
    clients: int, bids: int, batch: int, ctx: mp.context.BaseContext
) -> tuple[float, int, int, dict]:
    with tempfile.TemporaryDirectory() as folder:
        config = _config(clients, free_port(), Path(folder))
        ready, stop, results, counters = ctx.Event(), ctx.Event(), ctx.Queue(), ctx.Queue()
        operator = ctx.Process(target=_operator, args=(config, ready, stop, counters))
        operator.start()
        ready.wait(60)
        server = default_neighbourhood(clients, SEED).operator.public_hex
        go = ctx.Barrier(clients + 1)
        procs = [
            ctx.Process(
                target=_client, args=(i, clients, bids, batch, config.router, server, go, results)
            )
            for i in range(clients)
        ]
        try:
            for p in procs:
                p.start()
            go.wait(300)
            runs = [results.get(timeout=600) for _ in procs]
        finally:
            stop.set()
            for p in procs:
                p.join(10)
            operator.join(30)
            for p in [*procs, operator]:
                if p.is_alive():
                    p.kill()
        seen = counters.get(timeout=5) if not counters.empty() else {}
    first, last = min(r[0] for r in runs), max(r[1] for r in runs)
    accepted, refused = sum(r[2] for r in runs), sum(r[3] for r in runs)
    return accepted / (last - first), accepted, refused, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--bids", type=int, default=15000, help="bids per client")
    parser.add_argument(
        "--batch",
        type=int,
        nargs="+",
        default=[1, 50],
        help="bids per request, one run each (default: 1 and 50)",
    )
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    bare = bare_verify_rate()
    rows: list[tuple[str, float, float | None]] = [
        ("bare Ed25519 verify (1 core, CPU s)", bare, bare)
    ]
    for batch in (1, DRAIN_BATCH):
        wall, per_cpu = in_process_rate(args.clients, batch)
        rows.append((f"service.handle_batch, {batch} request(s)/call, no sockets", wall, per_cpu))
    for batch in args.batch:
        rate, accepted, refused, seen = _over_curve(args.clients, args.bids, batch, ctx)
        cpu = seen.get("cpu_s", 0.0)
        name = f"CurveZMQ, {args.clients} clients, {batch} bid(s)/request"
        rows.append((name, rate, accepted / cpu if cpu else None))
        if refused:
            print(f"batch {batch}: {refused} bids refused: {seen.get('rejected')}")
    print(
        f"{'measure':<52}{'per second':>11}{'per bid':>10}{'per CPU-s':>11}{'x bare':>8}"
        "  (per CPU-s of the operator process / bare verify rate)"
    )
    for name, rate, per_cpu in rows:
        cpu_text = f"{per_cpu:>11,.0f}{per_cpu / bare:>7.2f}x" if per_cpu else f"{'?':>11}{'':>8}"
        print(f"{name:<52}{rate:>11,.0f}{1e6 / rate:>8.1f}us{cpu_text}")
    print(
        f"{args.clients} x {args.bids:,} bids per run; one signature check per bid "
        "(bids are self-signed); target >= 0.8x bare per operator CPU-second"
    )


if __name__ == "__main__":
    main()
