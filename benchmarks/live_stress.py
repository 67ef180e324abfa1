"""Live stress through a real JACK server: many voices, fast notes, knob sweeps; count underflows.

Starts `synth play --headless` on JACK (a server must be running: a musician's real-time one,
`jackd -R -P 70 -d dummy -r 48000 -p 128`, or the tests' `jackd --no-realtime ...`), plays
random notes at --rate notes/s held long enough to keep about 32 voices sounding, sweeps two
knob CCs at 100 Hz (every sounding note follows them: issue 14), records the output, and reports
the synth's own underflow count (and when each happened), JACK xruns seen by the test client,
the recording's silent gaps, and the CPU the engine process and the note worker used (share of
one core; --no-sweeps gives the same load without new timbres, so the difference is what
following the knobs costs). Appends the result to docs/performance.md.

  .venv/bin/python benchmarks/live_stress.py --seconds 600
  .venv/bin/python benchmarks/live_stress.py --seconds 600 --program-every 5 --probe-every 20
      # the soak: + preset switches, the synth's resident memory every 10 s (growth counted once
      # the cache is full), and event latency: every 20 s the playing pauses (notes released, knobs
      # still sweeping) and one probe note's onset is measured against its MIDI event's frame
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from synth.bench import machine_description as machine  # noqa: E402
from synth.ostune import jack_server_realtime  # noqa: E402
from tests.jack_harness import JackPlayer, midi_port, start_synth, stop_synth  # noqa: E402

PROBE_NOTE, PROBE_HOLD_S = 69, 0.25
PROBE_QUIET_S = 1.5  # before a probe, no note sounds for this long (releases die away)
ONSET_LEVEL = 1e-7  # as tests/test_live_jack.py: the first sample above this is the onset


def probe_times(seconds: float, every_s: float) -> list[float]:
    """Every ``every_s`` seconds, nudged by 0.7 ms per probe so they land at different points of a
    block (otherwise every probe would wait the same fraction of a period)."""
    if every_s <= 0:
        return []
    return [every_s * k + 0.0007 * k for k in range(1, int(seconds / every_s))]


def score(seconds: float, rate_hz: float, voices: int, seed: int = 1, sweeps: bool = True,
          program_every_s: float = 0.0, probe_every_s: float = 0.0) -> list[tuple[float, bytes]]:
    rng = np.random.default_rng(seed)
    hold = voices / rate_hz  # notes held this long keep `voices` sounding
    probes = probe_times(seconds, probe_every_s)
    events = [e for p in probes for e in ((p, bytes([0x90, PROBE_NOTE, 100])),
                                          (p + PROBE_HOLD_S, bytes([0x80, PROBE_NOTE, 0])))]
    t = 0.0
    while t < seconds:
        note = int(rng.integers(36, 85))
        velocity = int(rng.integers(40, 127))
        if not any(p - hold - PROBE_QUIET_S <= t < p + PROBE_HOLD_S + 0.5 for p in probes):
            events += [(t, bytes([0x90, note, velocity])), (t + hold, bytes([0x80, note, 0]))]
        t += 1.0 / rate_hz
    for k in range(int(seconds * 100) if sweeps else 0):  # two knobs swept at 100 Hz
        phase = k / 100.0
        events.append((phase, bytes([0xB0, 1, int(63.5 + 63.5 * math.sin(phase * 0.7))])))
        events.append((phase + 0.005, bytes([0xB0, 71, int(63.5 + 63.5 * math.sin(phase * 0.31))])))
    if program_every_s > 0:  # preset switches (the soak): every preset slot in turn
        for k in range(int(seconds / program_every_s)):
            events.append(((k + 1) * program_every_s, bytes([0xC0, (k + 1) % 8])))
    return sorted(events, key=lambda e: e[0])


def probe_latencies(audio: np.ndarray, rate: int, probes: list[float]) -> tuple[list[int], int]:
    """Frames from each probe's MIDI event to its first sounding sample, for probes heard over a
    silent background; and how many probes had no silent background (not measured)."""
    latencies, noisy = [], 0
    for p in probes:
        at = int(p * rate)
        before = np.nan_to_num(audio[at - int(0.05 * rate):at], nan=1.0)
        if np.abs(before).max() > ONSET_LEVEL:
            noisy += 1
            continue
        loud = np.nonzero(np.abs(np.nan_to_num(audio[at:at + int(0.3 * rate)])) > ONSET_LEVEL)[0]
        if len(loud):
            latencies.append(int(loud[0]))
    return latencies, noisy


def merge_freezes(reports: list[dict]) -> dict:
    """One report from the per-CPU watchdogs: each freeze as (start s, ms, CPUs that saw it), where
    freezes seen on several CPUs within 2 ms of each other are one (the whole machine paused)."""
    reports = [r for r in reports if r]
    if not reports:
        return {}
    seen = sorted((start, ms, r.get("cpu")) for r in reports for start, ms in r.get("freezes", []))
    merged: list[list] = []
    for start, ms, cpu in seen:
        if merged and start - merged[-1][0] < 0.002:
            merged[-1][1] = max(merged[-1][1], ms)
            merged[-1][2].append(cpu)
        else:
            merged.append([start, ms, [cpu]])
    return {"policy": reports[0]["policy"], "threshold_ms": reports[0]["threshold_ms"], "cpus": len(reports),
            "freezes": merged}


def freeze_report(freezes: dict, stats: dict) -> str:
    """CPU freezes seen by benchmarks/freeze_watch.py (one watchdog per CPU), and which underflows
    followed one."""
    found = freezes.get("freezes", [])
    if not freezes:
        return "; freeze watch gave no report"
    origin = stats.get("clock_origin", 0.0)
    after_freeze = [at for at in stats.get("underflow_at_s", [])
                    if any(start - 0.01 <= origin + at <= start + ms / 1000.0 + 0.1 for start, ms, _ in found)]
    after_xrun = [at for at in stats.get("underflow_at_s", [])
                  if any(0 <= origin + at - xrun <= 0.1 for xrun in freezes.get("xrun_at", []))]
    longest = max((ms for _, ms, _ in found), default=0.0)
    whole = sum(1 for _, _, cpus in found if len(cpus) == freezes["cpus"])
    return (f"; CPU freezes (a SCHED_FIFO 99 watchdog per CPU woke over {freezes['threshold_ms']:g} ms late; "
            f"{freezes['policy']}): {len(found)} ({whole} on every CPU at once, the rest on one), longest "
            f"{longest:.1f} ms, at s {[(round(start - origin, 3), cpus) for start, _, cpus in found][:20]}; "
            f"underflows within 100 ms after a freeze: {len(after_freeze)} of {len(stats.get('underflow_at_s', []))}"
            f"; within 100 ms after a JACK xrun: {len(after_xrun)}")


def cpu_seconds(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by ``pid`` and by each process below it, by role:
    ``engine`` (the synth process itself) and ``note worker`` (its children)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)  # ppid, cpu
    below = {pid}
    for _ in range(3):
        below |= {p for p, (ppid, _) in stats.items() if ppid in below}
    used = {"engine": stats.get(pid, (0, 0.0))[1], "note worker": 0.0}
    used["note worker"] = sum(stats[p][1] for p in below - {pid} if p in stats)
    return used


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def play_score(args, events: list, stats_path: Path, watches: list[subprocess.Popen]):
    """Start the synth (or the floor), play ``events`` into it and record; stop everything."""
    floor = [sys.executable, str(ROOT / "benchmarks/floor_client.py"), "--stats", str(stats_path),
             "--blocksize", str(args.blocksize), "--audio-backend", args.audio_backend,
             "--engine-priority", args.engine_priority, "--ring-blocks", str(args.ring_blocks)]
    proc = start_synth(None if args.floor else "gansynth-stress", "--stats", str(stats_path), "--blocksize",
                       str(args.blocksize), "--audio-backend", args.audio_backend,
                       "--engine-priority", args.engine_priority, "--ring-blocks", str(args.ring_blocks),
                       "--spare-ms", str(args.spare_ms),
                       command=floor if args.floor else None)
    try:
        player = JackPlayer("gansynth-stress-client", seconds=args.seconds + 5)
        player.start(None if args.floor else midi_port("gansynth-stress"), ["PortAudio:out_0", "PortAudio:out_1"])
        rss: list[tuple[float, float]] = []  # (s, MB) of the synth process, every 10 s
        zero = player.frame_now() + int(0.5 * player.rate)
        cpu_before, wall_before = cpu_seconds(proc.pid), time.time()
        # Feed the schedule in slices so the client's queue stays small.
        fed, started = 0, time.time()
        while fed < len(events) or time.time() - started < args.seconds + 1.5:
            horizon = time.time() - started + 2.0
            while fed < len(events) and events[fed][0] < horizon:
                player.queue.append((zero + int(events[fed][0] * player.rate), events[fed][1], 0))
                fed += 1
            elapsed = time.time() - started
            if elapsed >= 10.0 * (len(rss) + 1) and proc.poll() is None:
                rss.append((round(elapsed), round(rss_mb(proc.pid), 1)))
            time.sleep(0.1)
        cpu_after, wall = cpu_seconds(proc.pid), time.time() - wall_before
        cpu = {role: (cpu_after[role] - cpu_before[role]) / wall for role in cpu_after}
        audio = player.recorded(zero, args.seconds).mean(axis=1)
        code, err = stop_synth(proc)
        player.close()
    finally:
        if proc.poll() is None:
            proc.kill()
    reports = []
    for watch in watches:
        watch.send_signal(signal.SIGTERM)
        reports.append(json.loads(watch.communicate(timeout=10)[0] or "{}"))
    freezes = merge_freezes(reports)
    if not stats_path.exists():
        print(f"synth play ended with code {code} and wrote no stats:\n{err}", file=sys.stderr)
        return None
    freezes["xrun_at"] = player.xrun_at
    return audio, code, json.loads(stats_path.read_text()), rss, freezes, player.xruns, player.rate, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--rate", type=float, default=20.0, help="notes per second")
    parser.add_argument("--voices", type=int, default=32)
    parser.add_argument("--blocksize", type=int, default=128)
    parser.add_argument("--ring-blocks", type=int, default=2, help="the ring's fill target in blocks (2)")
    parser.add_argument("--spare-ms", type=float, default=8.0,
                        help="audio rendered before its MIDI, outside the ring (8 ms; the synth only)")
    parser.add_argument("--audio-backend", choices=("rtmixer", "sounddevice"), default="rtmixer")
    parser.add_argument("--engine-priority", choices=("auto", "normal", "nice", "fifo"), default="auto")
    parser.add_argument("--floor", action="store_true",
                        help="measure the floor: benchmarks/floor_client.py (a sine on the same audio path) "
                             "in place of the synth, same harness and load")
    parser.add_argument("--no-sweeps", action="store_true", help="no knob sweeps (no new latents)")
    parser.add_argument("--program-every", type=float, default=0.0, metavar="S",
                        help="switch presets (program change) every S seconds: the soak of issue 6")
    parser.add_argument("--probe-every", type=float, default=0.0, metavar="S",
                        help="pause the playing every S seconds and measure one probe note's latency")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    server_realtime = jack_server_realtime()  # before the run: a client joining mid-run jolts the graph
    events = score(args.seconds, args.rate, args.voices, sweeps=not args.no_sweeps,
                   program_every_s=args.program_every, probe_every_s=args.probe_every)
    watches = [subprocess.Popen([sys.executable, str(ROOT / "benchmarks/freeze_watch.py"), "--cpu", str(cpu)],
                                stdout=subprocess.PIPE, text=True) for cpu in sorted(os.sched_getaffinity(0))]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            result = play_score(args, events, Path(tmp) / "stats.json", watches)
    finally:  # a failed run leaves no watchdog behind (play_score stops the synth)
        for watch in watches:
            if watch.poll() is None:
                watch.kill()
    if result is None:
        return 1
    audio, code, stats, rss, freezes, xruns, rate, cpu = result
    missed = int(np.isnan(audio).sum())
    level = np.abs(np.nan_to_num(audio))
    block = args.blocksize
    blocks = level[: len(level) // block * block].reshape(-1, block).max(axis=1)
    silent_blocks = int((blocks < 1e-6).sum())
    who = "floor: sine client, no instrument" if args.floor else "synth play"
    load = " / ".join(f"{100 * cpu[role]:.0f}%" for role in ("engine", "note worker"))
    table = (f"| client | seconds | notes/s | voices | block | underflows | silent blocks in recording | "
             "client-missed frames | JACK xruns | peak render ms | notes played | CPU engine / note worker |\n"
             "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
             f"| {who} | {args.seconds:.0f} | {args.rate:.0f} | {args.voices} | {block} | {stats['underflows']} | "
             f"{silent_blocks} | {missed} | {xruns} | {stats['peak_render_ms']:.2f} | "
             f"{stats['notes_played']} | {load} |\n")
    print(table)
    details = (f"exit code {code}; backend {stats['audio_backend']}; engine thread {stats['engine_priority']}; "
               f"underflows at {stats.get('underflow_at_s', [])} s; blocks slower than real time "
               f"(at s, wall ms, CPU ms, events): {stats.get('slow_blocks', [])[:20]}; GC pauses over 1 ms "
               f"(at s, generation, ms): {stats.get('gc_pauses', [])[:20]}; engine loop gaps over 2 blocks "
               f"(at s, ms): {stats.get('engine_stalls', [])[:20]}")
    if "rewrites" in stats:
        details += (f"; spares in the ring rendered again for MIDI: {stats['rewrites']} times, "
                    f"{stats['blocks_rewritten']} blocks of {stats['blocks_rendered']} new ones, "
                    f"{stats['late_rewrites']} begun by the device before they were whole")
    details += freeze_report(freezes, stats)
    if rss:  # 10 s: after warm-up; 120 s: the note cache is full (steady state)
        steady = next(((t, r) for t, r in rss if t >= 120), rss[0])
        details += (f"; resident memory {rss[0][1]:.1f} MB at {rss[0][0]} s, {steady[1]:.1f} MB at {steady[0]} s, "
                    f"{rss[-1][1]:.1f} MB at {rss[-1][0]} s (growth since {steady[0]} s: "
                    f"{rss[-1][1] - steady[1]:+.1f} MB; peak {max(r for _, r in rss):.1f} MB)")
    if args.program_every:
        details += f"; preset switch every {args.program_every:g} s"
    if args.probe_every and not args.floor:
        latencies, noisy = probe_latencies(audio, rate, probe_times(args.seconds, args.probe_every))
        if latencies:
            details += (f"; event latency over {len(latencies)} probes (MIDI event frame to first sound): "
                        f"p50 {np.percentile(latencies, 50):.0f}, p99 {np.percentile(latencies, 99):.0f}, "
                        f"max {max(latencies)} frames")
        details += f" ({noisy} probes not over silence)" if noisy else ""
    print(details)
    if not args.no_append:
        flag = " --floor" if args.floor else ""
        flag += f" --program-every {args.program_every:g}" if args.program_every else ""
        flag += f" --probe-every {args.probe_every:g}" if args.probe_every else ""
        flag += f" --ring-blocks {args.ring_blocks}" if args.ring_blocks != 2 else ""
        flag += f" --spare-ms {args.spare_ms:g}" if args.spare_ms != 8 and not args.floor else ""
        flag += " --no-sweeps" if args.no_sweeps else ""
        flag += f" --blocksize {block}" if block != 128 else ""
        server = "real-time (`jackd -R`)" if server_realtime else "`--no-realtime`"
        with open(ROOT / "docs" / "performance.md", "a") as handle:
            handle.write(f"\n### Live stress through JACK, {dt.date.today()}\n\nMachine: {machine()}; JACK dummy "
                         f"backend 48 kHz / {block} frames, server {server}. Command: `.venv/bin/python "
                         f"benchmarks/live_stress.py --seconds {args.seconds:.0f}{flag}`\n\n{table}\n{details}.\n")
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
