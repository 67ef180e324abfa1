"""Generation speed of a plugin: per-call latency and real-time factor by batch size.

Shared by ``synth bench`` (a user checking their own machine and model) and
``benchmarks/generation.py`` (which records the figures in docs/performance.md).
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .plugin.model import GeneratorModel

BATCHES = (1, 8, 32, 61)  # one note; a chord; a busy passage; every key of a 61-key keyboard at once


@dataclass
class GenerationRow:
    batch: int
    p50_ms: float
    p99_ms: float
    realtime_factor: float  # seconds of audio made per second of compute, at the median


def machine_description() -> str:
    """The CPU model, core count and Python version, for the header of a recorded figure."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def record(doc: Path, title: str, command: str, body: str, setting: str = "") -> None:
    """Append a dated section to ``doc`` (docs/performance.md): the title, this machine (and the
    ``setting`` the figures were taken under), the command that reproduces them, the table."""
    machine = machine_description() + (f"; {setting}" if setting else "")
    with open(doc, "a") as handle:
        handle.write(f"\n### {title}, {datetime.date.today()}\n\nMachine: {machine}. "
                     f"Command: `{command}`\n\n{body}")


def measure_generation(model: GeneratorModel, batches: tuple[int, ...] = BATCHES, calls: int = 30,
                       warmup: int = 3) -> list[GenerationRow]:
    """Time ``calls`` generate() calls per batch size (after ``warmup`` untimed ones)."""
    m = model.manifest
    rng = np.random.default_rng(0)
    rows = []
    for batch in batches:
        z = rng.standard_normal((batch, m.latent_dim)).astype(np.float32)
        low, high = (m.pitch_min, m.pitch_max) if m.pitch_conditioned else (60, 60)
        pitch = np.linspace(low, high, batch).round().astype(np.int64)
        for _ in range(warmup):
            model.generate(z, pitch)
        times = []
        for _ in range(calls):
            started = time.perf_counter()
            model.generate(z, pitch)
            times.append(time.perf_counter() - started)
        p50, p99 = float(np.percentile(times, 50)), float(np.percentile(times, 99))
        rows.append(GenerationRow(batch, 1000 * p50, 1000 * p99, batch * m.duration_s / p50))
    return rows


def generation_table(rows: list[GenerationRow]) -> str:
    lines = ["| batch | p50 ms | p99 ms | real-time factor |", "|---|---|---|---|"]
    lines += [f"| {r.batch} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | {r.realtime_factor:,.0f}x |" for r in rows]
    return "\n".join(lines) + "\n"
