"""How soon a moved knob is heard, through JACK at several block sizes (issue 14).

For each block size a private JACK dummy server is started (real-time when this user may), then
`synth play --headless`, and trials are played into it. Each trial, on a key of its own (so
nothing it asks for is cached), turns all nine knobs to one end, then to the other:

- (b) while a note is held: how long from the knob message until the held note *is* the note
  with the new setting (sample for sample, within 5 % RMS, compared with that note struck later
  at the same place in the note);
- (a) 20 ms before a note is struck: how long from the knob message until that note is the new
  one (0 ms of wait if it was ready at its strike; else it starts on a stand-in and cross-fades).

Times are from the knob message's frame to the first 2.5 ms chunk after which the note stays
within 0.3 % RMS of the reference for 100 ms (the notes match exactly once a fade is done; where a
JACK xrun shifted the rest of the stream by whole periods, a chunk is compared at that shift
too). Prints a table and appends it to docs/performance.md.

  .venv/bin/python benchmarks/timbre_latency.py [--blocks 64,128,256] [--trials 8]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from live_latency import start_server  # noqa: E402

from synth.bench import record  # noqa: E402
from tests.jack_harness import JackPlayer, start_synth, stop_synth  # noqa: E402

VELOCITY = 100
KNOB_CCS = [1, 70, 71, 72, 73, 74, 75, 76, 77]
TRIAL_S = 6.0
CHUNK = 120  # 2.5 ms at 48 kHz
SAME = 0.003  # within 0.3 % RMS of the reference
SETTLE = 4800  # and staying there for 100 ms


def trial_events(k: int) -> tuple[list[tuple], dict]:
    """One trial's MIDI, and when (s from the trial's start) its knob moves and notes come. Each
    trial plays its own key (48, 50, ...), so no timbre it asks for is cached from an earlier one."""
    t0, key = k * TRIAL_S, 48 + 2 * k

    def knobs(at: float, value: int) -> list[tuple]:
        return [(at, bytes([0xB0, cc, value])) for cc in KNOB_CCS]

    def note(at: float, hold: float) -> list[tuple]:
        return [(at, bytes([0x90, key, VELOCITY])), (at + hold, bytes([0x80, key, 0]))]

    times = {"held": t0, "held_move": t0 + 1.0, "held_ref": t0 + 2.3,
             "next_move": t0 + 4.5, "next": t0 + 4.52, "next_ref": t0 + 5.2}
    events = (note(times["held"], 1.6) + knobs(times["held_move"], 127) + note(times["held_ref"], 1.6)
              + knobs(times["next_move"], 0) + note(times["next"], 0.4) + note(times["next_ref"], 0.4))
    return events, times


def onset(audio: np.ndarray, at: int, rate: int) -> int:
    loud = np.nonzero(np.abs(np.nan_to_num(audio[at:at + int(0.3 * rate)])) > 0.02)[0]
    return at + int(loud[0]) if len(loud) else -1


def aligned(x: np.ndarray, ref: np.ndarray, around: int, span: int = 2400, search: int = 1000) -> int:
    """The lag (samples) of ``ref`` against ``x`` that matches them best near ``around``. Up to ~20 ms:
    the onsets found by level are not the notes' true starts when a note began on a stand-in (the
    palette's piano: 38 and 64 samples apart, where a search of +-8 found no match at all)."""
    best, best_err = 0, np.inf
    for lag in range(-search, search + 1):
        a, b = x[around:around + span], ref[around + lag:around + lag + span]
        if len(a) != span or len(b) != span:
            continue
        err = float(np.nansum((a - b) ** 2))
        if err < best_err:
            best, best_err = lag, err
    return best


def settled_after(x: np.ndarray, ref: np.ndarray, start: int, end: int, shifts: tuple[int, ...] = (0,)) -> int | None:
    """The first sample from ``start`` (before ``end``) after which every 2.5 ms chunk stays within
    0.3 % of the reference for 100 ms. A chunk may match the reference ``shifts`` samples later or
    earlier: a JACK xrun shifts the rest of a recording by whole periods (at 64 frames on this VM
    most trials had one, and sample-for-sample comparison lost 9 of 10)."""
    same = []
    for c in range(start, min(end + SETTLE, len(x), len(ref)) - CHUNK, CHUNK):
        a = x[c:c + CHUNK]
        matched = False
        for shift in shifts:
            b = ref[c + shift:c + shift + CHUNK]
            if c + shift < 0 or len(b) != CHUNK:
                continue
            level = np.sqrt(np.mean(b ** 2)) + 1e-9
            matched |= bool(np.sqrt(np.mean((a - b) ** 2)) / level < SAME)  # NaN (missed) never matches
        same.append(matched)
    run = SETTLE // CHUNK
    for i in range(len(same) - run + 1):
        if start + i * CHUNK > end:
            break
        if all(same[i:i + run]):
            return start + i * CHUNK
    return None


def measure(block: int, trials: int, server: str) -> dict:
    events, marks = [], []
    for k in range(trials):
        e, t = trial_events(k)
        events += e
        marks.append(t)
    port = "gansynth-timbre-latency"
    proc = start_synth(port, "--blocksize", str(block), server=server)
    player = JackPlayer("gansynth-timbre-probe", seconds=trials * TRIAL_S + 5)
    try:
        midi_port = next(p.name for p in player.client.get_ports(port, is_midi=True, is_input=True))
        player.start(midi_port, ["PortAudio:out_0", "PortAudio:out_1"])
        zero = player.schedule(events, lead_s=0.5)
        time.sleep(0.5 + trials * TRIAL_S + 0.5)
        audio = player.recorded(zero, trials * TRIAL_S).mean(axis=1)
        code, err = stop_synth(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        player.close()
    rate = player.rate
    shifts = tuple(k * block for k in (0, -1, 1, -2, 2))  # whole periods an xrun may have shifted
    held_ms, next_ms, ready = [], [], 0
    for t in marks:
        # (b) the held note, against the reference at the same place in the note.
        h, r = onset(audio, int(t["held"] * rate), rate), onset(audio, int(t["held_ref"] * rate), rate)
        move = int(t["held_move"] * rate)
        if min(h, r) < 0:
            continue  # a note the recording lost (the test client missed its cycles): not measured
        x, ref = audio[h:h + int(1.5 * rate)], audio[r:r + int(1.5 * rate)]
        lag = aligned(x, ref, move - h + int(0.3 * rate))
        ref = audio[r + lag:r + lag + int(1.5 * rate)]
        done = settled_after(x, ref, move - h - int(0.01 * rate), move - h + int(0.4 * rate), shifts)
        if done is not None:
            held_ms.append(1000 * (h + done - move) / rate)
        # (a) the next note, struck 20 ms after the knobs, against the same note struck later.
        n, r = onset(audio, int(t["next"] * rate), rate), onset(audio, int(t["next_ref"] * rate), rate)
        if min(n, r) < 0:
            continue
        x, ref = audio[n:n + int(0.35 * rate)], audio[r:r + int(0.35 * rate)]
        lag = aligned(x, ref, int(0.2 * rate))
        ref = audio[r + lag:r + lag + int(0.35 * rate)]
        done = settled_after(x, ref, 0, int(0.3 * rate), shifts)
        if done is not None:
            next_ms.append(1000 * (n + done - int(t["next_move"] * rate)) / rate)
            ready += done == 0
    return {"held": held_ms, "next": next_ms, "ready": ready, "code": code, "stderr": err}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", default="64,128,256")
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    rows = ["| block (frames) | (a) next note new, ms after the knob: p50 / max | exact from its strike | "
            "(b) held note moved, ms after the knob: p50 / max | trials measured (a, b) |", "|---|---|---|---|---|"]
    realtime = False
    for block in [int(b) for b in args.blocks.split(",")]:
        name = f"gansynth-lat-{block}"  # fixed names, as benchmarks/live_latency.py
        server, realtime = start_server(name, block)
        os.environ["JACK_DEFAULT_SERVER"] = name
        try:
            result = measure(block, args.trials, name)
        finally:
            server.terminate()
            server.wait(timeout=10)
        if result["code"] != 0:
            print(result["stderr"], file=sys.stderr)
        held, nxt = result["held"], result["next"]
        fmt = lambda v: f"{np.median(v):.0f} / {max(v):.0f}" if v else "-"  # noqa: E731
        rows.append(f"| {block} | {fmt(nxt)} | {result['ready']} of {len(nxt)} | {fmt(held)} | "
                    f"{len(nxt)}, {len(held)} of {args.trials} |")
    table = "\n".join(rows) + "\n"
    print(table)
    if not args.no_append:
        mode = "real-time (`jackd -R`)" if realtime else "`--no-realtime`"
        record(ROOT / "docs" / "performance.md", "Time from a knob to the sound: the next note and a held note",
               f".venv/bin/python benchmarks/timbre_latency.py --blocks {args.blocks} --trials {args.trials}",
               table, setting=f"a JACK dummy server per block size, 48 kHz, {mode}; the note is struck 20 ms "
                               "after the knob message")
    return 0


if __name__ == "__main__":
    sys.exit(main())
