"""The terminal UI of ``synth play`` (rich): what is playing, and keys to steer it.

It reads the host's counters (never locks the engine) and queues actions for the
engine thread. Keys: 1-9 pick a knob, +/- move it, l = MIDI-learn the picked knob,
[ ] = previous/next preset, r = randomise, s = save preset, space = panic, q = quit.
"""

from __future__ import annotations

import os
import select
import sys
import threading
import time

from rich.console import Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

HELP = "1-9 knob  +/- move  l learn  [ ] preset  r randomise  s save  space panic  q quit"


def meter(level: float, width: int = 24) -> str:
    """A peak meter: -60..0 dBFS as a bar."""
    import math

    db = 20 * math.log10(max(level, 1e-6))
    filled = int(round(width * min(max((db + 60) / 60, 0.0), 1.0)))
    return "#" * filled + "." * (width - filled) + f" {db:6.1f} dB"


class TerminalUI:
    def __init__(self, host) -> None:
        self.host = host
        self.knob = 0
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
        preset = synth.presets[channel.preset_index]
        status.add_row("preset", f"{channel.preset_index}: {preset.name}   morph {channel.morph:.2f}")
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
        if key in "123456789":
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
            host.submit(self._save_preset)
        elif key == " ":
            host.submit(lambda h: h.synth.panic())
        elif key == "q":
            host.stop.set()

    def _save_preset(self, host) -> None:
        folder = host.options.preset_dir
        path = folder / f"preset-{time.strftime('%Y%m%d-%H%M%S')}.json"
        host.synth.current_preset(0, path.stem).save(path)
        host.say(f"saved {path}")
        if host.options.config_path is not None:
            host.synth.settings.save(host.options.config_path)  # MIDI-learned bindings too

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
