"""Generation speed of a plugin on the CPU: per-call latency and real-time factor by batch size.

Appends a table to docs/performance.md. Run: .venv/bin/python benchmarks/generation.py [--model M]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np

from synth.model import GeneratorModel

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from render_vs_fluidsynth import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    model = GeneratorModel.load(args.model, device="cpu", threads=args.threads)
    m = model.manifest
    rows = ["| batch | p50 ms | p99 ms | real-time factor |", "|---|---|---|---|"]
    for batch in (1, 8, 32):
        z = np.random.default_rng(0).standard_normal((batch, m.latent_dim)).astype(np.float32)
        pitch = np.full(batch, 60)
        model.generate(z, pitch)
        times = []
        for _ in range(args.calls):
            started = time.perf_counter()
            model.generate(z, pitch)
            times.append(time.perf_counter() - started)
        p50, p99 = np.percentile(times, 50), np.percentile(times, 99)
        rows.append(f"| {batch} | {1000 * p50:.1f} | {1000 * p99:.1f} | {batch * m.duration_s / p50:.0f}x |")
    table = "\n".join(rows) + "\n"
    print(table)
    if not args.no_append:
        with open(ROOT / "docs" / "performance.md", "a") as handle:
            handle.write(f"\n### Generation, {m.name}, CPU, {args.threads} thread(s), {dt.date.today()}\n\n"
                         f"Machine: {machine()}. Command: `.venv/bin/python benchmarks/generation.py "
                         f"--threads {args.threads}`\n\n{table}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
