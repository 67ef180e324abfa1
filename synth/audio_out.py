"""Audio outputs for the live host: a ring buffer the engine fills and a device that drains it.

Two backends with one interface:

* ``rtmixer`` (default): PortAudio's C ring buffer, drained by rtmixer's C callback.
  The callback never needs Python's GIL, so no Python thread (inference, the UI,
  garbage collection) can delay it. When it finds the ring empty its playback
  action ends; the engine counts that as an underflow and starts a new one.
* ``sounddevice``: a Python callback copying from :class:`~synth.ring.FrameRing`.
  Simple, but the callback must take the GIL, so a busy Python thread can make
  it late (through JACK that is a dropout).
"""

from __future__ import annotations

import time

import numpy as np

from .errors import AudioDeviceError
from .ring import FrameRing

BACKENDS = ("rtmixer", "sounddevice")


def _next_power_of_two(n: int) -> int:
    return 1 << (int(n) - 1).bit_length()


class SounddeviceOutput:
    """A sounddevice OutputStream with a Python callback that copies from a FrameRing."""

    name = "sounddevice"

    def __init__(self, device: int, rate: int, block: int, channels: int, capacity: int) -> None:
        import sounddevice as sd

        self.ring = FrameRing(capacity, channels)
        self.peak_callback_ms = 0.0
        ring = self.ring

        def callback(outdata, frames, _time, status):
            t0 = time.perf_counter()
            ring.read_into(outdata)
            elapsed = (time.perf_counter() - t0) * 1000.0
            if elapsed > self.peak_callback_ms:
                self.peak_callback_ms = elapsed

        self.stream = sd.OutputStream(samplerate=rate, blocksize=block, device=device, channels=channels,
                                      dtype="float32", callback=callback, latency="low")

    @property
    def fill(self) -> int:
        return self.ring.fill

    def space(self) -> int:
        return self.ring.space()

    def write(self, block: np.ndarray) -> None:
        self.ring.write(block)

    @property
    def underflows(self) -> int:
        return self.ring.underflows

    @property
    def active(self) -> bool:
        return self.stream.active

    def poll(self) -> None:
        pass

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
        self.ring = rtmixer.RingBuffer(4 * channels, _next_power_of_two(capacity))
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
        self.ring.write(block)

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


def open_output(backend: str, device: int, rate: int, block: int, channels: int, capacity: int):
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
