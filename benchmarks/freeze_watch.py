"""Watch for moments when a CPU stops: no thread runs on it, not even the highest priority.

A thread at SCHED_FIFO 99 (above JACK and the synth) sleeps 1 ms at a time and records each
wake-up that comes more than --threshold-ms late, as (CLOCK_MONOTONIC s, ms late). Nothing on
the machine can hold it off except the kernel or the hypervisor, so a late wake-up here means
its CPU stood still: on a virtual machine, the host took it away (one virtual CPU: steal time)
or paused the whole machine (every CPU at once). With --cpu N it stays on CPU N; live_stress.py
runs one per CPU beside the synth and lines its underflows up with these freezes. Prints JSON
on SIGTERM.

  .venv/bin/python benchmarks/freeze_watch.py --threshold-ms 4 --cpu 0
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threshold-ms", type=float, default=4.0)
    parser.add_argument("--cpu", type=int, default=None, help="stay on this CPU")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(99))
        policy = "SCHED_FIFO 99"
    except OSError:
        policy = "normal (no real-time permission: freezes and ordinary preemption look alike)"
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    late: list[tuple[float, float]] = []
    threshold = args.threshold_ms / 1000.0
    last = time.monotonic()
    while not stop:
        time.sleep(0.001)
        now = time.monotonic()
        if now - last - 0.001 > threshold and len(late) < 1000:
            late.append((round(last, 4), round((now - last - 0.001) * 1000.0, 2)))
        last = now
    print(json.dumps({"policy": policy, "threshold_ms": args.threshold_ms, "cpu": args.cpu, "freezes": late}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
