"""Sounding notes follow the controls: when a channel's timbre moves (knob, morph, program,
randomise), its held and sustained notes cross-fade to the same notes in the new timbre.

Offline the new notes are generated at once, on a grid of absolute frames every
``FOLLOW_EVERY_S`` (so a render does not depend on its block size, and a sweep of a hundred
controller messages a second regenerates a held note fifty times a second, not a hundred).
Live nothing waits: at the end of a block, at most once per ``FOLLOW_EVERY_S``, the new notes are
queued for the worker, the sounding ones urgent and alone, then the keys likely struck next (the
recent keys and the newest one's neighbours), each replacing an older request for the same note;
a voice cross-fades when its note arrives. From the last controller message to a held note
having moved: at most the follow step, one note's generation and the fade (20 + ~5 + 15 ms).

A mixin of :class:`~synth.engine.synth.Synth`: it uses the synth's ``bank``, ``voices``,
``channels``, ``realtime``, ``sample_rate``, ``note_request``, ``bucket_velocity`` and
``_catch_up``.
"""

from __future__ import annotations

from ..notes.prepare import NoteRequest
from .channels import ChannelState
from .envelope import RELEASE
from .voice import Voice

FOLLOW_EVERY_S = 0.02  # sounding notes ask for a moved timbre at most this often
RETIMBRE_FADE_S = 0.015  # and cross-fade to it over this long (shorter: a fade ends before the next step)
NEIGHBOUR_KEYS = (-2, -1, 1, 2)  # around the newest key struck: regenerated too when the timbre moves


class TimbreFollowing:
    """Moves sounding notes to their channel's new timbre."""

    def _start_follow(self) -> None:
        """At the start of a block: find this block's grid points; live, adopt the notes that came."""
        self._grid_next = -self._clock % self._grid_frames()
        if self.realtime:
            self._adopt_arrivals()

    def _grid_frames(self) -> int:
        return max(1, int(FOLLOW_EVERY_S * self.sample_rate))

    def _follow_due(self, until: int, end: bool = False) -> None:
        """Follow the timbre at every grid point of this block before frame ``until``. Live, at most
        once a grid step too (a moved channel waits at most that long, and the latest move wins):
        asking for 32 sounding notes on every block of a sweep cost the engine a millisecond a block."""
        if self.realtime:
            now = self._clock + until
            if not end:
                return  # live, events come at the block's start: follow once, after all of them
            if now - self._last_follow >= self._grid_frames() and any(s.retimbre for s in self.channels):
                self._last_follow = now
                self._follow_timbre(until)
            return
        grid = self._grid_frames()
        if self._grid_next < until and not (any(s.retimbre for s in self.channels)
                                            or any(v.want is not None for v in self.voices)):
            # Nothing moved and no fade waits: only the grid advances (a song without knob moves
            # crosses thousands of grid points, and this is all it pays for them).
            self._grid_next += -(-(until - self._grid_next) // grid) * grid
            return
        while self._grid_next < until:
            at = self._grid_next
            if any(state.retimbre for state in self.channels):
                self._follow_timbre(at)
            waiting = [v for v in self.voices if v.want is not None]
            if waiting:  # a fade that ended right here, with the next one waiting for it
                for voice in waiting:
                    self._catch_up(voice, at)
                self._adopt_arrivals(waiting)
            self._grid_next += grid

    def _follow_timbre(self, at: int) -> None:
        """Ask for the new notes of every channel whose timbre moved; offline, start their fades at
        frame ``at`` of this block."""
        for number, state in enumerate(self.channels):
            if not state.retimbre:
                continue
            state.retimbre = False
            voices = [v for v in self.voices if v.channel == number and not v.stolen and v.env.stage != RELEASE]
            requests = []
            for voice in voices:
                request = self.note_request(number, voice.note, voice.velocity)
                voice.want = request.key if request.key != voice.key else None
                if voice.want is not None:
                    requests.append(request)
            if self.realtime:
                for request in self._likely_requests(number, state):
                    self._ask_worker(number, request)
                for request in requests:  # the sounding notes go before the rest, alone
                    self._ask_worker(number, request, urgent=True)
            elif requests:
                self.bank.ensure(requests)
                for voice in voices:
                    self._catch_up(voice, at)  # the old timbre sounds until here
                self._adopt_arrivals(voices)

    def _likely_requests(self, channel: int, state: ChannelState) -> list[NoteRequest]:
        """The notes the player is likely to strike next with the new timbre, least likely first:
        the keys around the newest one, then the recent keys (oldest first)."""
        if not state.recent:
            return []
        newest, velocity = state.recent[-1]
        keys = [(newest + d, velocity) for d in NEIGHBOUR_KEYS if 0 <= newest + d <= 127] + list(state.recent)
        return self.bank.missing([self.note_request(channel, note, vel) for note, vel in dict.fromkeys(keys)])

    def _adopt_arrivals(self, voices: list[Voice] | None = None) -> None:
        """Voices whose wanted note is cached start their cross-fade to it (at their cursor)."""
        fade = max(1, int(RETIMBRE_FADE_S * self.sample_rate))
        for voice in self.voices if voices is None else voices:
            want = voice.want
            if want is None or voice.incoming is not None:
                continue  # nothing wanted, or a fade still running: the next one waits for it
            if voice.stolen or voice.env.stage == RELEASE:
                voice.want = None  # on its way out: not worth a new note
                continue
            note = self.bank.get(want)
            if note is not None:
                voice.cross_fade_to(note, self._gain(voice.velocity, want.velocity_bucket), want, fade)
                voice.want = None

    def _ask_worker(self, channel: int, request: NoteRequest, urgent: bool = False) -> None:
        """Queue a note for the worker in its slot (the channel's note at its velocity, any latent),
        so a newer request for the same note replaces a waiting older one; ``urgent``: a voice
        sounds while it waits."""
        key = request.key
        slot = (channel, key.pitch, key.velocity_bucket, key.shift_semitones)
        self.bank.request(request, slot=slot, urgent=urgent)

    def _gain(self, velocity: int, bucket: int) -> float:
        """A voice's gain for MIDI ``velocity`` playing a note generated in velocity ``bucket``."""
        if self.manifest.velocity_input:
            gain = velocity / (self.bucket_velocity(bucket) * 127.0)
        else:
            gain = (velocity / 127.0) ** 2
        return min(max(gain, 0.25), 4.0)
