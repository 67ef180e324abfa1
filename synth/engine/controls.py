"""The sound controls of the engine: presets, knobs, morph and MIDI learn per channel, and the
note request each note-on turns into.

A preset gives a channel its base latent (and envelope); the channel's knobs move that latent
along the manifest's directions and CC 78 morphs it toward another preset. Whatever these
controls set shapes only the notes to come: :meth:`SoundControls.note_request` names the
generated note (its cache key, latent and velocity) a note-on plays.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Callable, Iterable

import numpy as np

from .. import gm
from ..errors import ConfigError
from ..midi import events as ev
from ..notes.colour import Colour
from ..notes.prepare import NoteKey, NoteRequest, latent_digest
from ..plugin.model import GeneratorModel
from ..settings import Settings
from .channels import ChannelState
from .envelope import Envelope
from .latent import LatentSpace, Preset, between_instruments, default_presets, instrument_presets, quantise_knob

MAX_REMEMBERED_REQUESTS = 4096  # note requests kept for the next note-on of the same key (then forgotten)


class SoundControls:
    """Presets, knobs, morph and MIDI learn for 16 channels, and the notes they ask for."""

    def __init__(self, model: GeneratorModel, settings: Settings | None = None,
                 presets: list[Preset] | None = None) -> None:
        self.model = model
        self.manifest = model.manifest
        self.settings = settings or Settings()
        self.latents = LatentSpace(self.manifest)
        self.presets = presets or instrument_presets(self.manifest) or default_presets(self.settings["presets.count"])
        # What a player should be told (a program this model lacks, drums skipped): the hosts say it.
        self.notices: collections.deque[str] = collections.deque(maxlen=64)
        self._noticed: set[str] = set()
        self._drums_noticed = False
        self.knob_ccs = {cc: k for k, cc in enumerate(self.settings["midi.knob_ccs"][: self.latents.num_knobs])}
        self.learning: int | None = None  # knob waiting for MIDI learn to bind the next CC
        # Told the new knob CCs after each binding (the live host saves them; never blocks).
        self.on_bind: Callable[[int, int, list[int]], None] | None = None
        self._random = np.random.default_rng()
        # What a note-on asks for depends on the channel, the key, the velocity and the channel's
        # timbre (its digest) only: a song strikes the same few hundred of those thousands of times.
        self._requests: dict[tuple[int, int, int, bytes], NoteRequest] = {}
        self.channels: list[ChannelState] = []
        self._reset_channels()

    def moves_latent(self, event: ev.MidiEvent) -> bool:
        """A knob or morph controller: it moves the channel's latent, which only new notes use."""
        return event.kind == ev.CONTROL and (event.a in self.knob_ccs or event.a == self.settings["midi.morph_cc"])

    def set_knob(self, knob: int, value: float, channel: int | None = None) -> None:
        """Set latent knob ``knob`` (0..num_knobs-1) to ``value`` (0..1) on one or all channels."""
        if not 0 <= knob < self.latents.num_knobs:
            raise ConfigError(f"knob must be 0..{self.latents.num_knobs - 1}, got {knob}")
        for state in self._targets(channel):
            state.knobs[knob] = quantise_knob(value)
            state.timbre_moved()

    def bind_cc(self, cc: int, knob: int) -> None:
        """MIDI learn: controller ``cc`` now moves ``knob`` (replacing the knob's previous CC)."""
        if not 0 <= knob < self.latents.num_knobs:
            raise ConfigError(f"knob must be 0..{self.latents.num_knobs - 1}, got {knob}")
        ccs = list(self.settings["midi.knob_ccs"])
        ccs += [-1] * (self.latents.num_knobs - len(ccs))
        ccs = [-1 if c == cc else c for c in ccs]
        ccs[knob] = cc
        self.settings.set("midi.knob_ccs", ccs, "MIDI learn")
        self.knob_ccs = {c: k for k, c in enumerate(ccs) if c >= 0}
        if self.on_bind is not None:
            self.on_bind(cc, knob, ccs)

    def set_morph(self, value: float, channel: int | None = None) -> None:
        """Move the latent from the preset (0) towards its morph target (1, the next preset)."""
        for state in self._targets(channel):
            state.morph = quantise_knob(value)
            state.timbre_moved()

    def randomize(self, channel: int | None = None) -> None:
        """Give the channel's preset slot a fresh random base latent (knobs and envelope kept): on a
        palette model a new instrument between two of its own (:func:`between_instruments`), on
        another a draw from its prior."""
        for number, state in enumerate(self.channels):
            if channel is not None and number != channel:
                continue
            old = self.presets[state.preset_index]
            seed = int(self._random.integers(0, 2**31))
            latent = ([float(x) for x in between_instruments(self.manifest, seed)]
                      if self.manifest.instruments else None)
            fresh = Preset(name=f"Random {seed}", seed=seed, latent=latent, knobs=list(state.knobs),
                           envelope=old.envelope, model_sha256=self.model.sha256)
            if old.program is not None:
                # A GM instrument stays where program changes find it: the channel moves to a slot of
                # its own (replaced by the next randomise, so slots grow by at most one per channel).
                self.presets.append(fresh)
                state.preset_index = len(self.presets) - 1
                state.timbre_moved()
                continue
            self.presets[state.preset_index] = fresh
            for other in self.channels:
                if other.preset_index == state.preset_index:
                    other.timbre_moved()

    def current_preset(self, channel: int = 0, name: str | None = None) -> Preset:
        """The channel's sound as a preset (its latent written out, so it survives any seed)."""
        state = self.channels[channel]
        base = self.presets[state.preset_index]
        return Preset(name=name or base.name, seed=base.seed, latent=[float(x) for x in self._base_latent(state)],
                      knobs=list(state.knobs), envelope=state.envelope, model_sha256=self.model.sha256,
                      colour=self._colour(state))

    def select_preset(self, index: int, channel: int | None = None) -> None:
        if not 0 <= index < len(self.presets):
            raise ConfigError(f"preset must be 0..{len(self.presets) - 1}, got {index}")
        preset = self.presets[index]
        for state in self._targets(channel):
            state.preset_index = index
            state.knobs = self._preset_knobs(preset)
            state.envelope = self._envelope_for(preset)
            state.morph_target = (index + 1) % len(self.presets)
            state.timbre_moved()

    def select_program(self, program: int, channel: int) -> None:
        """Program change: with instruments that name their GM programs, GM program ``program``'s
        (or the nearest the model has: the same family first, then the closest number, named in a
        notice); otherwise preset ``program`` modulo their count, as before instruments."""
        playable = [(index, preset.program) for index, preset in enumerate(self.presets) if preset.program is not None]
        if not playable:
            self.select_preset(program % len(self.presets), channel)
            return
        index, found = min(playable, key=lambda item: (gm.family(item[1]) != gm.family(program),
                                                       abs(item[1] - program), item[0]))
        if found != program:
            self._notice(f"channel {channel + 1}: program {program + 1} ({gm.program_name(program)}) is not in this "
                         f"model; playing {self.presets[index].name}, the nearest it has")
        self.select_preset(index, channel)

    def skips(self, channel: int) -> bool:
        """Whether note-ons on ``channel`` are skipped: the GM drum channel, until a drum model exists."""
        if channel + 1 != self.settings["midi.drum_channel"]:
            return False
        if self._drums_noticed:  # every drum note comes here: say it once, build the text once
            return True
        self._drums_noticed = True
        self._notice(f"channel {channel + 1} is General MIDI percussion and this model plays no drums: "
                     "its notes are skipped (set [midi] drum_channel = 0 to play them)")
        return True

    def _notice(self, text: str) -> None:
        if text not in self._noticed:  # once each: a song repeats its program changes
            self._noticed.add(text)
            self.notices.append(text)

    def instrument_name(self, channel: int = 0) -> str:
        """What the channel plays, for people: its preset's name (and GM program, if it has one)."""
        preset = self.presets[self.channels[channel].preset_index]
        return preset.name if preset.program is None else f"{preset.name} (GM {preset.program + 1})"

    def channel_latent(self, channel: int) -> tuple[np.ndarray, bytes]:
        """The channel's latent now, and the digest of its timbre (the latent and the colour)."""
        state = self.channels[channel]
        if state.latent is None:
            base = self._base_latent(state)
            state.latent = self.latents.latent(base, np.asarray(state.knobs, np.float32))
            state.colour = self._colour(state)
            state.digest = latent_digest(state.latent, state.colour)
        return state.latent, state.digest

    def _colour(self, state: ChannelState) -> Colour | None:
        """The colour of the channel's preset (a preset from a sample has one), morphed as its latent
        is: toward the morph target's colour, or toward none."""
        own = self.presets[state.preset_index].colour
        if state.morph <= 0.0:
            return own
        target = self.presets[state.morph_target % len(self.presets)].colour
        if own is None:
            return None if target is None else target.blend(None, 1.0 - state.morph)
        return own.blend(target, state.morph)

    def _base_latent(self, state: ChannelState) -> np.ndarray:
        base = self.presets[state.preset_index].base(self.manifest)
        if state.morph > 0.0:
            target = self.presets[state.morph_target % len(self.presets)].base(self.manifest)
            base = (base + (target - base) * np.float32(state.morph)).astype(np.float32)
        return base

    def _targets(self, channel: int | None) -> list[ChannelState]:
        return self.channels if channel is None else [self.channels[channel]]

    def _preset_knobs(self, preset: Preset) -> list[float]:
        knobs = [0.5] * self.latents.num_knobs
        for k, value in enumerate(preset.knobs[: len(knobs)]):
            knobs[k] = quantise_knob(value)
        return knobs

    def _envelope_for(self, preset: Preset) -> Envelope:
        """A preset's own envelope, or the settings' envelope where the preset keeps the default."""
        return preset.envelope if preset.envelope != Envelope() else self.settings.envelope

    def _reset_channels(self, keep_presets: bool = False) -> None:
        old = self.channels
        self.channels = [ChannelState(bend_range=float(self.settings["midi.pitch_bend_range"])) for _ in range(16)]
        for number, state in enumerate(self.channels):
            index = old[number].preset_index if keep_presets and old else 0
            preset = self.presets[index]
            state.preset_index, state.knobs = index, self._preset_knobs(preset)
            state.morph_target = (index + 1) % len(self.presets)
            state.envelope = self._envelope_for(preset)
            if keep_presets and old:
                state.knobs = list(old[number].knobs)

    # -- note requests ------------------------------------------------------------------------------
    def note_request(self, channel: int, note: int, velocity: int) -> NoteRequest:
        """Which generated note a note-on of ``note`` at ``velocity`` on ``channel`` plays now."""
        z, digest = self.channel_latent(channel)
        memo = (channel, note, velocity, digest)
        request = self._requests.get(memo)
        if request is None:
            if len(self._requests) >= MAX_REMEMBERED_REQUESTS:
                self._requests.clear()
            request = self._requests[memo] = self._new_request(channel, note, velocity, z, digest)
        return request

    def _new_request(self, channel: int, note: int, velocity: int, z: np.ndarray, digest: bytes) -> NoteRequest:
        m = self.manifest
        buckets = self.settings["engine.velocity_buckets"]
        bucket = min(velocity * buckets // 128, buckets - 1)
        model_velocity = self.bucket_velocity(bucket)
        if m.pitch_conditioned:
            source = note
            while source < m.pitch_min:
                source += 12  # outside the model's range: an octave-shifted note, resampled
            while source > m.pitch_max:
                source -= 12
            source = min(max(source, m.pitch_min), m.pitch_max)
            shift = note - source
        elif m.unpitched_mode == "pads":
            source, shift = note, 0
            z = z + np.random.default_rng(note).standard_normal(m.latent_dim).astype(np.float32) * 0.5
            digest = latent_digest(z, self.channels[channel].colour)
        else:
            source, shift = m.root_pitch, note - m.root_pitch
        return NoteRequest(NoteKey(source, bucket, digest, shift), z, model_velocity,
                           self.channels[channel].colour)

    def bucket_velocity(self, bucket: int) -> float:
        """The model velocity (0..1) at the middle of velocity bucket ``bucket``."""
        buckets = self.settings["engine.velocity_buckets"]
        return (bucket + 0.5) * 128.0 / buckets / 127.0

    def upcoming_notes(self, events: Iterable[tuple[int, ev.MidiEvent]]) -> list[tuple[int, NoteRequest]]:
        """The notes ``events`` will ask for, ``(position, request)`` in order, each with
        the latent its channel will have by then. Program changes and knob and morph controllers are
        replayed on copies of the channels, so nothing audible changes. Lets the engine generate a
        block's notes in one batch, and a renderer a song's notes ahead of the mixing."""
        saved = None
        upcoming = []
        try:
            for position, event in events:
                kind, channel = event.kind, event.channel
                if kind == ev.NOTE_ON:
                    if channel + 1 != self.settings["midi.drum_channel"]:
                        upcoming.append((position, self.note_request(channel, event.a, event.b)))
                    continue
                if not (kind == ev.PROGRAM or self.moves_latent(event)):
                    continue
                if saved is None:
                    saved = self.channels
                    self.channels = [copy.copy(state) for state in saved]
                    for state in self.channels:
                        state.knobs = list(state.knobs)  # the one field changed in place
                if kind == ev.PROGRAM:
                    self.select_program(event.a, channel)
                elif event.a in self.knob_ccs:
                    self.set_knob(self.knob_ccs[event.a], event.b / 127.0, channel)
                else:
                    self.set_morph(event.b / 127.0, channel)
        finally:
            if saved is not None:
                self.channels = saved
        return upcoming
