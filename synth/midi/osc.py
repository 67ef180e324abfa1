"""OSC control of a playing instrument (python-osc, UDP on localhost by default).

Addresses (values are floats or ints):

=========================  ===========================================
``/synth/knob K V [CH]``   set latent knob K to V (0..1), all channels or CH (0-15)
``/synth/preset I [CH]``   select preset I
``/synth/morph V [CH]``    morph towards the next preset (0..1)
``/synth/randomize [CH]``  a fresh random latent for the current preset
``/synth/note N V [CH]``   note on (V > 0) or off (V = 0)
``/synth/panic``           all sound off
=========================  ===========================================

Handlers run on the OSC server thread; they only queue actions that the engine
thread applies between blocks. Malformed messages are counted and ignored.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ..errors import SynthError
from . import events as ev

Action = Callable[[object], None]


class OscControl:
    def __init__(self, port: int, submit: Callable[[Action], None], host: str = "127.0.0.1") -> None:
        from pythonosc import dispatcher, osc_server

        self.submit = submit
        self.received = 0
        self.rejected = 0
        table = dispatcher.Dispatcher()
        table.map("/synth/knob", self._knob)
        table.map("/synth/preset", self._preset)
        table.map("/synth/morph", self._morph)
        table.map("/synth/randomize", self._randomize)
        table.map("/synth/note", self._note)
        table.map("/synth/panic", lambda *_: self._queue(lambda s: s.panic()))
        table.set_default_handler(lambda *_: self._reject())
        try:
            self.server = osc_server.ThreadingOSCUDPServer((host, port), table)
        except OSError as exc:
            raise SynthError(f"cannot listen for OSC on {host}:{port} ({exc.strerror})",
                             hint="pick another --osc-port") from None
        self.thread = threading.Thread(target=self.server.serve_forever, name="osc", daemon=True)

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> None:
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _queue(self, action: Action) -> None:
        self.received += 1
        self.submit(action)

    def _reject(self) -> None:
        self.rejected += 1

    @staticmethod
    def _channel(args: tuple, index: int) -> int | None:
        if len(args) <= index:
            return None
        channel = int(args[index])
        if not 0 <= channel <= 15:
            raise ValueError
        return channel

    def _guard(self, build: Callable[[], Action]) -> None:
        try:
            action = build()
        except (ValueError, TypeError, IndexError):
            self._reject()
            return
        self._queue(action)

    def _knob(self, _address: str, *args) -> None:
        def build():
            knob, value, channel = int(args[0]), min(max(float(args[1]), 0.0), 1.0), self._channel(args, 2)
            return lambda s: s.set_knob(knob, value, channel) if knob < s.latents.num_knobs else None
        self._guard(build)

    def _preset(self, _address: str, *args) -> None:
        def build():
            index, channel = int(args[0]), self._channel(args, 1)
            return lambda s: s.select_preset(index % len(s.presets), channel)
        self._guard(build)

    def _morph(self, _address: str, *args) -> None:
        def build():
            value, channel = min(max(float(args[0]), 0.0), 1.0), self._channel(args, 1)
            return lambda s: s.set_morph(value, channel)
        self._guard(build)

    def _randomize(self, _address: str, *args) -> None:
        self._guard(lambda: (lambda s, c=self._channel(args, 0): s.randomize(c)))

    def _note(self, _address: str, *args) -> None:
        def build():
            note, velocity = int(args[0]), int(args[1])
            channel = self._channel(args, 2) or 0
            event = (ev.MidiEvent.checked(ev.NOTE_ON, channel, note, velocity) if velocity
                     else ev.note_off(note, channel))
            return lambda s: s.handle(event)
        self._guard(build)
