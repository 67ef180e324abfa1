"""Audio outputs for the live host: a ring buffer the engine fills and a device that drains it.

Two backends with one interface:

* ``rtmixer`` (default): PortAudio's C ring buffer, drained by rtmixer's C callback.
  The callback never needs Python's GIL, so no Python thread (inference, the UI,
  garbage collection) can delay it. When it finds the ring empty its playback
  action ends; the engine counts that as an underflow and starts a new one.
* ``sounddevice``: a Python callback copying from :class:`~synth.host.ring.FrameRing`.
  Simple, but the callback must take the GIL, so a busy Python thread can make
  it late (through JACK that is a dropout).

Both let the engine rewrite frames it wrote that the device has not reached (:meth:`overwrite`):
the engine keeps milliseconds of audio rendered ahead in the ring, for the device to play through
a pause of the engine, and renders them again when MIDI changes the sound.
"""

from __future__ import annotations

import time
from typing import Protocol

import numpy as np

from ..errors import AudioDeviceError
from .ring import FrameRing, copy_in

BACKENDS = ("rtmixer", "sounddevice")


class AudioOutput(Protocol):
    """What the live host needs of an audio output: a ring it fills, a device that drains it."""

    name: str
    peak_callback_ms: float

    @property
    def fill(self) -> int:
        """Frames waiting in the ring."""

    def space(self) -> int:
        """Frames that fit in the ring now."""

    def write(self, block: np.ndarray) -> None:
        """Append a ``[frames, channels]`` block (the caller checked :meth:`space`)."""

    @property
    def written(self) -> int:
        """Frames written since the start."""

    @property
    def read_position(self) -> int:
        """Frames the device has taken since the start (it may be copying the next block now)."""

    def overwrite(self, position: int, block: np.ndarray) -> None:
        """Replace frames already written, from ``position`` (frames since the start; not before
        :attr:`read_position`, and ``position + len(block)`` not after :attr:`written`)."""

    @property
    def underflows(self) -> int:
        """Times the device found the ring short, counted by the output itself."""

    @property
    def active(self) -> bool:
        """Whether the device is still running."""

    def poll(self) -> None:
        """Engine thread, once per loop: notice and recover from a dry ring."""

    def start(self) -> None: ...

    def close(self) -> None: ...


def _next_power_of_two(n: int) -> int:
    return 1 << (int(n) - 1).bit_length()


class FrameRingOutput:
    """The engine's side of a :class:`FrameRing`: what the live host writes to and asks about.
    Whatever drains the ring (a sounddevice callback, a test playing the device) reads
    ``self.ring``."""

    name = "ring"

    def __init__(self, capacity: int, channels: int = 2) -> None:
        self.ring = FrameRing(capacity, channels)

    @property
    def fill(self) -> int:
        return self.ring.fill

    def space(self) -> int:
        return self.ring.space()

    def write(self, block: np.ndarray) -> None:
        self.ring.write(block)

    @property
    def written(self) -> int:
        return self.ring.written

    @property
    def read_position(self) -> int:
        return self.ring.read

    def overwrite(self, position: int, block: np.ndarray) -> None:
        self.ring.overwrite(position, block)

    @property
    def underflows(self) -> int:
        return self.ring.underflows

    def poll(self) -> None:
        pass


class SounddeviceOutput(FrameRingOutput):
    """A sounddevice OutputStream with a Python callback that copies from a FrameRing."""

    name = "sounddevice"

    def __init__(self, device: int, rate: int, block: int, channels: int, capacity: int) -> None:
        import sounddevice as sd

        super().__init__(capacity, channels)
        self.peak_callback_ms = 0.0
        self.callback_errors = 0  # exceptions caught in the callback (each played as silence)
        ring = self.ring

        def callback(outdata, frames, _time, status):
            # Never let an exception reach PortAudio (it would stop the stream): count it, play
            # silence, and the ring counts the block as an underflow.
            t0 = time.perf_counter()
            try:
                ring.read_into(outdata)
            except Exception:  # noqa: BLE001  the audio thread must keep running whatever happens
                self.callback_errors += 1
                ring.underflows += 1
                outdata.fill(0.0)
            elapsed = (time.perf_counter() - t0) * 1000.0
            if elapsed > self.peak_callback_ms:
                self.peak_callback_ms = elapsed

        self.stream = sd.OutputStream(samplerate=rate, blocksize=block, device=device, channels=channels,
                                      dtype="float32", callback=callback, latency="low")

    @property
    def active(self) -> bool:
        return self.stream.active

    def start(self) -> None:
        self.stream.start()

    def close(self) -> None:
        self.stream.close(ignore_errors=True)


class RtmixerOutput:
    """rtmixer's Mixer playing a PortAudio ring buffer from its C callback."""

    name = "rtmixer"

    def __init__(self, device: int, rate: int, block: int, channels: int, capacity: int) -> None:
        import rtmixer

        self._rtmixer = rtmixer
        self.channels = channels
        # The ring's memory is this array, so frames already written can be rewritten in place.
        # PortAudio's ring counts its indices modulo twice its size (a power of two): frame
        # ``position`` of the stream sits at ``position % size`` as long as every frame goes
        # through write().
        self._frames = np.zeros((_next_power_of_two(capacity), channels), np.float32)
        self.ring = rtmixer.RingBuffer(4 * channels, buffer=self._frames)
        self._written = 0
        self.mixer = rtmixer.Mixer(device=device, channels=channels, blocksize=block, samplerate=rate,
                                   latency="low")
        self.action = None
        self.restarts = 0
        self.peak_callback_ms = 0.0  # the callback is C: not measured here

    @property
    def fill(self) -> int:
        return self.ring.read_available

    def space(self) -> int:
        return self.ring.write_available

    def write(self, block: np.ndarray) -> None:
        if self.ring.write(block) != len(block):
            raise RuntimeError("wrote past the ring's space")  # the engine checks space() first
        self._written += len(block)

    @property
    def written(self) -> int:
        return self._written

    @property
    def read_position(self) -> int:
        return self._written - self.ring.read_available

    def overwrite(self, position: int, block: np.ndarray) -> None:
        copy_in(self._frames, position, block)

    @property
    def underflows(self) -> int:
        return self.restarts

    @property
    def active(self) -> bool:
        return self.mixer.active

    def poll(self) -> None:
        """Engine thread: if the ring ran dry the playback action ended; count it and start anew."""
        if self.action is not None and self.action not in self.mixer.actions and self.fill:
            self.restarts += 1
            self.action = self.mixer.play_ringbuffer(self.ring)

    def start(self) -> None:
        self.mixer.start()
        self.action = self.mixer.play_ringbuffer(self.ring)

    def close(self) -> None:
        self.mixer.close(ignore_errors=True)


def find_output_device(spec: str | None) -> int:
    """``spec``: a device index, or a substring of a device or host-API name; ``None``: the default."""
    import sounddevice as sd

    devices = sd.query_devices()
    apis = sd.query_hostapis()
    outputs = [i for i, d in enumerate(devices) if d["max_output_channels"] > 0]
    if not outputs:
        raise AudioDeviceError("no audio output device found",
                               hint="list devices with `synth devices`; with no sound card, start a JACK server "
                                    "(jackd -d dummy)")
    if spec is None:
        default = sd.default.device[1]
        return default if default is not None and default >= 0 and default in outputs else outputs[0]
    if spec.isdigit():
        if int(spec) in outputs:
            return int(spec)
        raise AudioDeviceError(f"audio device {spec} is not an output device",
                               hint="list devices with `synth devices`")
    needle = spec.lower()
    for i in outputs:
        if needle in devices[i]["name"].lower() or needle in apis[devices[i]["hostapi"]]["name"].lower():
            return i
    raise AudioDeviceError(f"no audio output device matches {spec!r}", hint="list devices with `synth devices`")


def open_output(backend: str, device: int, rate: int, block: int, channels: int, capacity: int) -> AudioOutput:
    """Open the named backend (``rtmixer`` falls back to ``sounddevice`` if it is not installed)."""
    import sounddevice as sd

    if backend == "rtmixer":
        try:
            import rtmixer  # noqa: F401
        except ImportError:
            backend = "sounddevice"
    kind = RtmixerOutput if backend == "rtmixer" else SounddeviceOutput
    try:
        return kind(device, rate, block, channels, capacity)
    except sd.PortAudioError as exc:
        name = sd.query_devices(device)["name"]
        raise AudioDeviceError(f"cannot open audio device {name!r} at {rate} Hz ({exc})",
                               hint="try another --samplerate or --audio-device; `synth devices` lists them") from None
