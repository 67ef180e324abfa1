"""The terminal UI of ``synth play`` (rich): what is playing, and keys to steer it.

It reads the host's counters (never locks the engine) and queues actions for the
engine thread. Keys: 1-9 pick a knob, +/- move it, l = MIDI-learn the picked knob,
[ ] = previous/next preset, r = randomise, s = save the sound as a preset under a name
(type it, Enter; Esc cancels), space = panic, q = quit. A spectrum of what is sounding, with
its brightness (spectral centroid), shows what a knob does to the sound.
"""

from __future__ import annotations

import os
import re
import select
import sys
import threading
import time
from pathlib import Path

import numpy as np
from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from ..errors import SynthError

HELP = "1-9 knob  +/- move  l learn  [ ] preset  r randomise  s save as...  space panic  q quit"
BARS = " ▁▂▃▄▅▆▇█"
SPECTRUM_BANDS = 32


def meter(level: float, width: int = 24) -> str:
    """A peak meter: -60..0 dBFS as a bar."""
    import math

    db = 20 * math.log10(max(level, 1e-6))
    filled = int(round(width * min(max((db + 60) / 60, 0.0), 1.0)))
    return "#" * filled + "." * (width - filled) + f" {db:6.1f} dB"


def spectrum(samples: np.ndarray, rate: int, bands: int = SPECTRUM_BANDS) -> tuple[str, float | None]:
    """A one-line spectrum (log-spaced bands, 50 Hz to 12 kHz, 60 dB tall) and the spectral
    centroid in Hz (``None`` in silence): what a knob sweep does to the sound, at a glance."""
    x = np.asarray(samples, np.float64)
    power = np.abs(np.fft.rfft(x * np.hanning(len(x)))) ** 2
    freqs = np.fft.rfftfreq(len(x), 1.0 / rate)
    total = power[1:].sum()
    if total < 1e-9:
        return BARS[0] * bands, None
    edges = np.geomspace(50.0, min(12000.0, rate / 2), bands + 1)
    energy = np.array([power[(freqs >= lo) & (freqs < hi)].sum() for lo, hi in zip(edges[:-1], edges[1:])])
    db = 10 * np.log10(energy + 1e-12)
    heights = np.clip((db - (db.max() - 60.0)) / 60.0, 0.0, 1.0)
    line = "".join(BARS[int(round(h * (len(BARS) - 1)))] for h in heights)
    return line, float((freqs[1:] * power[1:]).sum() / total)


def preset_path(folder: Path, name: str) -> Path:
    """A file for preset ``name`` in ``folder`` that does not exist yet (a saved preset is never
    replaced: "warm pad" is warm-pad.json, then warm-pad-2.json...)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-.") or "preset"
    path, n = folder / f"{stem}.json", 2
    while path.exists():
        path, n = folder / f"{stem}-{n}.json", n + 1
    return path


class TerminalUI:
    def __init__(self, host) -> None:
        self.host = host
        self.knob = 0
        self.naming: str | None = None  # the preset name being typed after 's', else None
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="ui", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=1.0)

    # -- drawing ---------------------------------------------------------------------------------
    def render(self):
        host, synth = self.host, self.host.synth
        channel = synth.channels[0]
        status = Table.grid(padding=(0, 2))
        status.add_row("model", f"{synth.manifest.name} ({synth.model.provider.replace('ExecutionProvider', '')})")
        frames = host.stats.latency_frames
        status.add_row("audio", f"{host.device_name}, {host.rate} Hz, latency at most {frames} frames "
                                f"({1000 * frames / host.rate:.1f} ms)")
        status.add_row("MIDI", ", ".join(host.midi.names) if host.midi else "-")
        status.add_row("voices", f"{synth.active_voices} / {synth.settings['engine.polyphony']}   "
                                 f"notes {synth.notes_played}")
        status.add_row("ring", f"{host.out.fill} frames   underflows {host.out.underflows}   ({host.out.name})")
        status.add_row("CPU", f"{100 * host.load:5.1f} % of real time   peak block "
                              f"{host.stats.peak_render_ms:.2f} ms")
        status.add_row("level L", meter(float(host.level[0])))
        status.add_row("level R", meter(float(host.level[-1])))
        line, centroid = spectrum(host.scope.latest(), host.rate)
        status.add_row("spectrum", f"{line}  " + (f"brightness {centroid / 1000:.2f} kHz" if centroid else "silent"))
        status.add_row("instrument", f"{channel.preset_index}: {synth.instrument_name(0)}   morph {channel.morph:.2f}")
        if self.naming is not None:
            status.add_row("save as", f"{self.naming}_   (Enter saves, Esc cancels)")
        knobs = Table("knob", "CC", "value", box=None, padding=(0, 1))
        ccs = {k: cc for cc, k in synth.knob_ccs.items()}
        for k, value in enumerate(channel.knobs):
            mark = ">" if k == self.knob else " "
            learn = " learning..." if synth.learning == k else ""
            knobs.add_row(f"{mark}{k + 1}", str(ccs.get(k, "-")), f"{'=' * int(value * 20):<20} {value:.2f}{learn}")
        messages = Text("\n".join(host.messages), style="dim")
        return Panel(Group(status, Text(""), knobs, Text(""), messages, Text(HELP, style="bold")),
                     title="GAN synth", border_style="cyan")

    # -- keys ------------------------------------------------------------------------------------
    def on_key(self, key: str) -> None:
        host = self.host
        if self.naming is not None:
            self._name_key(key)
        elif key in "123456789":
            self.knob = min(int(key) - 1, host.synth.latents.num_knobs - 1)
        elif key in "+-":
            step = 2 / 127 if key == "+" else -2 / 127
            knob = self.knob
            host.submit(lambda h: h.synth.set_knob(knob, h.synth.channels[0].knobs[knob] + step))
        elif key == "l":
            knob = self.knob
            host.submit(lambda h: setattr(h.synth, "learning", knob))
            host.say(f"move a controller to bind it to knob {knob + 1}")
        elif key in "[]":
            step = 1 if key == "]" else -1
            host.submit(lambda h: h.synth.select_preset((h.synth.channels[0].preset_index + step)
                                                        % len(h.synth.presets)))
        elif key == "r":
            host.submit(lambda h: h.synth.randomize(0))
        elif key == "s":
            self.naming = host.synth.presets[host.synth.channels[0].preset_index].name
        elif key == " ":
            host.submit(lambda h: h.synth.panic())
        elif key == "q":
            host.stop.set()

    def _name_key(self, key: str) -> None:
        """A key while the preset's name is typed: Enter saves, Esc cancels, Backspace deletes."""
        if key in ("\r", "\n"):
            name, self.naming = self.naming.strip() or "preset", None
            self.host.submit(lambda host: self._save_preset(host, name))
        elif key == "\x1b":
            self.naming = None
        elif key in ("\x7f", "\b"):
            self.naming = self.naming[:-1]
        elif key.isprintable() and len(self.naming) < 60:
            self.naming += key

    def _save_preset(self, host, name: str) -> None:
        """Engine thread: take the sound as it is; the file is written on a thread of its own."""
        preset = host.synth.current_preset(0, name)

        def write() -> None:
            path = preset_path(host.options.preset_dir, name)
            try:
                preset.save(path)
            except SynthError as error:
                host.say(str(error))
                return
            host.say(f"saved preset {name!r} as {path}")

        threading.Thread(target=write, name="save-preset", daemon=True).start()

    def _run(self) -> None:
        interactive = sys.stdin.isatty()
        saved = None
        if interactive:
            import termios
            import tty

            fd = sys.stdin.fileno()
            saved = termios.tcgetattr(fd)
            tty.setcbreak(fd)
        try:
            with Live(self.render(), refresh_per_second=10, screen=False, transient=True) as live:
                while not self.stop.is_set():
                    if interactive and select.select([sys.stdin], [], [], 0.1)[0]:
                        self.on_key(os.read(sys.stdin.fileno(), 1).decode(errors="ignore"))
                    else:
                        time.sleep(0.1 if not interactive else 0)
                    live.update(self.render())
        finally:
            if saved is not None:
                import termios

                termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
