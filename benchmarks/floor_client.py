"""The floor for live benchmarks: the host's own audio path playing a sine, with no instrument.

Same output class (rtmixer ring by default), same block size, ring target, engine-loop timing,
priority and GC settings as `synth play`, but each block is a precomputed sine instead of
`Synth.process`. Whatever underflows this client shows in a harness are the machine's and the
audio server's, not the instrument's. SIGTERM stops it and writes --stats JSON.

  .venv/bin/python benchmarks/floor_client.py --stats floor.json   (a JACK server must run)
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from synth.host.ahead import MidiCycleGate  # noqa: E402
from synth.host.outputs import (
    find_output_device,  # noqa: E402
    open_output,  # noqa: E402
)
from synth.midi.events import NOTE_OFF, NOTE_ON  # noqa: E402
from synth.ostune import choose_priority, raise_priority  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audio-device", default="jack")
    parser.add_argument("--blocksize", type=int, default=128)
    parser.add_argument("--ring-blocks", type=int, default=2)
    parser.add_argument("--audio-backend", choices=("rtmixer", "sounddevice"), default="rtmixer")
    parser.add_argument("--stats", type=Path)
    parser.add_argument("--engine-priority", choices=("auto", "normal", "nice", "fifo"), default="auto")
    parser.add_argument("--virtual-midi", metavar="NAME",
                        help="a JACK MIDI input: the sine sounds while a key is held (the latency floor), "
                             "blocks are timed against the MIDI read as in `synth play`")
    args = parser.parse_args()
    import sounddevice as sd

    device = find_output_device(args.audio_device)
    rate = int(sd.query_devices(device)["default_samplerate"])
    block, target = args.blocksize, args.blocksize * args.ring_blocks
    midi = None
    if args.virtual_midi:
        from synth.midi.jack import open_jack_midi

        midi = open_jack_midi([], args.virtual_midi, client_name="gansynth-floor")
    gate = MidiCycleGate(block, block / rate)
    silence = np.zeros((block, 2), np.float32)
    held: set[int] = set()
    out = open_output(args.audio_backend, device, rate, block, 2, block * max(args.ring_blocks + 2, 4))
    period_frames = rate // 100 * block  # a whole number of blocks and of 400 Hz periods: seamless loop
    table = (0.2 * np.sin(2 * np.pi * 400.0 * np.arange(period_frames) / rate)).astype(np.float32)
    stereo = np.repeat(table[:, None], 2, axis=1)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    host_api = sd.query_hostapis(sd.query_devices(device)["hostapi"])["name"]
    priority = raise_priority(choose_priority(args.engine_priority, host_api))
    sys.setswitchinterval(0.001)
    gc.collect()
    gc.freeze()
    position, blocks = 0, 0
    underflow_at: list[float] = []  # seconds from the start, as the synth's stats give them
    started = time.perf_counter()
    out.start()
    while not stop.is_set():
        wrote = False
        while out.fill < target and out.space() >= block:
            if midi is not None:
                if gate.waiting(midi, out.fill):
                    break
                events: list = []
                midi.poll(events)
                for _, event in events:  # the same parsed events the synth gets
                    if event.kind == NOTE_ON and event.b > 0:
                        held.add(event.a)
                    elif event.kind in (NOTE_ON, NOTE_OFF):
                        held.discard(event.a)
            out.write(stereo[position:position + block] if midi is None or held else silence)
            position = (position + block) % period_frames
            blocks += 1
            wrote = True
        before = out.underflows
        out.poll()
        if out.underflows != before and len(underflow_at) < 100:
            underflow_at.append(round(time.perf_counter() - started, 3))
        if not wrote:
            time.sleep(block / rate / 4)
    underflows = out.underflows
    out.close()
    stats = {"underflows": underflows, "blocks_rendered": blocks, "seconds": time.perf_counter() - started,
             "audio_backend": out.name, "engine_priority": priority, "peak_render_ms": 0.0, "notes_played": 0,
             "underflow_at_s": underflow_at, "clock_origin": started}
    if args.stats:
        args.stats.write_text(json.dumps(stats, indent=2) + "\n")
    print(f"floor client: {underflows} underflows in {stats['seconds']:.0f} s via {out.name}", file=sys.stderr)
    os._exit(0)  # PortAudio's JACK teardown can hang; everything is written


if __name__ == "__main__":
    sys.exit(main())
