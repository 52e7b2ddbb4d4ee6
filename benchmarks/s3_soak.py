"""Server memory and stalls under continuous S3 overwrites (issue 15).

    python -m benchmarks.s3_soak [--seconds 180] [--clients 8] [--size 102400] [--keys 4]

``--clients`` threads each PUT then GET an object of ``--size`` random bytes, over and over, on
``--keys`` keys of their own in one bucket, for ``--seconds``; every GET is checked against what was
PUT.  Prints the server's RSS (with its children) at the start, every 30 s and at the end, the
pairs per second, the worst PUT+GET round trip, and the stalls: moments when every client was
waiting on one request for more than ``--stall`` seconds at once.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import threading
import time

from benchmarks.common import percentile, report
from benchmarks.control_plane import localcloud, rss_mb


class Client(threading.Thread):
    def __init__(self, cloud, index: int, args: argparse.Namespace, deadline: float):
        super().__init__(name=f"client-{index}", daemon=True)
        self.s3 = cloud.client("s3")
        self.keys = [f"client-{index}/object-{key}" for key in range(args.keys)]
        self.size, self.deadline = args.size, deadline
        self.round_trips: list[float] = []
        self.waiting_since: float | None = None  # set while a request is outstanding
        self.failures = 0

    def run(self) -> None:
        count = 0
        while time.monotonic() < self.deadline:
            key = self.keys[count % len(self.keys)]
            body = os.urandom(self.size)
            started = time.monotonic()
            self.waiting_since = started
            self.s3.put_object(Bucket="soak", Key=key, Body=body)
            read = self.s3.get_object(Bucket="soak", Key=key)["Body"].read()
            self.waiting_since = None
            self.round_trips.append(time.monotonic() - started)
            if hashlib.sha256(read).digest() != hashlib.sha256(body).digest():
                self.failures += 1
            count += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=180)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--size", type=int, default=100 * 1024)
    parser.add_argument("--keys", type=int, default=4)
    parser.add_argument("--stall", type=float, default=0.3)
    args = parser.parse_args()

    with localcloud() as (cloud, process, _):
        cloud.client("s3").create_bucket(Bucket="soak")
        started = time.monotonic()
        deadline = started + args.seconds
        clients = [Client(cloud, index, args, deadline) for index in range(args.clients)]
        memory = [(0.0, rss_mb(process.pid))]
        for client in clients:
            client.start()
        stalls: list[tuple[float, float]] = []  # (seconds into the run, how long every client waited)
        next_sample = started + 30
        while any(client.is_alive() for client in clients):
            time.sleep(0.02)
            now = time.monotonic()
            waits = [now - client.waiting_since if client.waiting_since else 0.0 for client in clients]
            if min(waits) > args.stall:
                moment = now - min(waits) - started
                if stalls and moment - stalls[-1][0] < 1:
                    stalls[-1] = (stalls[-1][0], max(stalls[-1][1], min(waits)))
                else:
                    stalls.append((moment, min(waits)))
            if now >= next_sample:
                memory.append((now - started, rss_mb(process.pid)))
                next_sample += 30
        memory.append((time.monotonic() - started, rss_mb(process.pid)))

    round_trips = [trip * 1000 for client in clients for trip in client.round_trips]
    rows = [
        ("server RSS (MB)", "   ".join(f"{at:4.0f} s: {mb:6.1f}" for at, mb in memory)),
        ("RSS growth (MB)", f"{memory[-1][1] - memory[0][1]:.1f} over {memory[-1][0]:.0f} s"),
        ("PUT+GET pairs/s", f"{len(round_trips) / args.seconds:.0f}  ({sum(c.failures for c in clients)} corrupt)"),
        ("pair p50 / p99 / worst (ms)", f"{percentile(round_trips, 50):.0f} / {percentile(round_trips, 99):.0f} / "
                                        f"{max(round_trips):.0f}"),
        (f"stalls (all clients > {args.stall} s)", ", ".join(f"at {at:.0f} s: {length:.2f} s" for at, length in stalls)
         or "none"),
    ]
    report(f"S3 overwrite soak: {args.clients} clients x {args.seconds:.0f} s, {args.size // 1024} KiB objects", rows)


if __name__ == "__main__":
    main()
