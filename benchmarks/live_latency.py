"""Live latency through JACK at several block sizes: the synth against a floor client.

For each block size (JACK period) a private JACK dummy server is started (real-time when this
user may, as a musician runs JACK), then `synth play --headless` and the floor client
(benchmarks/floor_client.py --virtual-midi: a sine that sounds while a key is held, on the same
output path and the same block timing) each get the same probe notes: one note every 0.6 s,
nudged by 0.7 ms each so they land at every point of a block. Latency is the number of frames
from the MIDI event's frame to the first sounding sample in the recording. Prints a table and
appends it to docs/performance.md.

  .venv/bin/python benchmarks/live_latency.py [--blocks 64,128,256] [--probes 60]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from live_stress import probe_latencies  # noqa: E402

from synth.bench import record  # noqa: E402
from tests.jack_harness import JackPlayer, start_synth, stop_synth  # noqa: E402

SPACING_S, HOLD_S, PROBE_NOTE = 0.6, 0.15, 69


def start_server(name: str, block: int) -> tuple[subprocess.Popen, bool]:
    realtime = os.geteuid() == 0
    mode = ["-R", "-P", "70"] if realtime else ["--no-realtime"]
    server = subprocess.Popen(["jackd", "-n", name, *mode, "-d", "dummy", "-r", "48000", "-p", str(block)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.5)
    if server.poll() is not None:
        raise SystemExit(f"jackd -n {name} did not start (is jackd installed?)")
    return server, realtime


def measure(client: str, block: int, probes: int, server: str) -> dict:
    """Play the probes into the synth or the floor on ``server``; latencies in frames and stats."""
    with tempfile.TemporaryDirectory() as tmp:
        stats_path = Path(tmp) / "stats.json"
        port = f"gansynth-lat-{client}"
        floor = [sys.executable, str(ROOT / "benchmarks/floor_client.py"), "--virtual-midi", port,
                 "--blocksize", str(block), "--stats", str(stats_path)]
        proc = start_synth(port, "--blocksize", str(block), "--stats", str(stats_path), server=server,
                           command=floor if client == "floor" else None)
        player = JackPlayer("gansynth-lat-probe", seconds=probes * SPACING_S + 5)
        try:
            midi_port = next(p.name for p in player.client.get_ports(port, is_midi=True, is_input=True))
            player.start(midi_port, ["PortAudio:out_0", "PortAudio:out_1"])
            times = [SPACING_S * (k + 1) + 0.0007 * k for k in range(probes)]
            events = [e for t in times for e in ((t, bytes([0x90, PROBE_NOTE, 100])),
                                                 (t + HOLD_S, bytes([0x80, PROBE_NOTE, 0])))]
            zero = player.schedule(events, lead_s=0.5)
            time.sleep(0.5 + times[-1] + 1.0)
            audio = player.recorded(zero, times[-1] + 0.5).mean(axis=1)
            code, err = stop_synth(proc)
        finally:
            if proc.poll() is None:
                proc.kill()
            player.close()
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    latencies, noisy = probe_latencies(audio, player.rate, times)
    return {"latencies": latencies, "noisy": noisy, "missing": probes - len(latencies) - noisy,
            "underflows": stats.get("underflows", "?"), "code": code}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", default="64,128,256")
    parser.add_argument("--probes", type=int, default=60)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    rows = ["| block (frames) | client | p50 frames | p99 frames | max frames | p50 ms | probes heard | underflows |",
            "|---|---|---|---|---|---|---|---|"]
    realtime = False
    for block in [int(b) for b in args.blocks.split(",")]:
        name = f"gansynth-lat-{block}"  # fixed: JACK frees a dead server's registry entry only for its name
        server, realtime = start_server(name, block)
        os.environ["JACK_DEFAULT_SERVER"] = name  # the test clients and the synth join this server
        try:
            for client in ("synth", "floor"):
                result = measure(client, block, args.probes, name)
                lat = result["latencies"]
                if lat:
                    p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
                    rows.append(f"| {block} | {client} | {p50:.0f} | {p99:.0f} | {max(lat)} | {p50 / 48:.1f} | "
                                f"{len(lat)} of {args.probes} | {result['underflows']} |")
                else:
                    rows.append(f"| {block} | {client} | - | - | - | - | 0 of {args.probes} | {result['underflows']} |")
        finally:
            server.terminate()
            server.wait(timeout=10)
    table = "\n".join(rows) + "\n"
    print(table)
    if not args.no_append:
        mode = "real-time (`jackd -R`)" if realtime else "`--no-realtime`"
        record(ROOT / "docs" / "performance.md", "Live latency by block size, synth and floor",
               f".venv/bin/python benchmarks/live_latency.py --blocks {args.blocks} --probes {args.probes}",
               table, setting=f"a JACK dummy server per block size, 48 kHz, {mode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
