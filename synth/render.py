"""Headless rendering: MIDI files to WAV, and one-shot sample packs, as fast as the machine allows.

Uses the same ``Synth`` as the live host, in large blocks with no clock.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from . import events as ev
from .audiofile import wav_writer, write_wav
from .engine import Synth
from .midifile import Song, load_song

RENDER_BLOCK = 16384  # measured: 4096 spent a third of the render in per-block voice bookkeeping
TAIL_S = 1.0  # rendered after the last event, for releases to finish


@dataclass
class RenderReport:
    path: Path
    seconds: float
    notes: int
    generated: int
    peak: float


def render_blocks(synth: Synth, song: Song, sample_rate: int, progress: bool = True) -> Iterator[np.ndarray]:
    """Render ``song`` through ``synth`` block by block: ``[frames, 2]`` float32 views that the next
    block overwrites (copy to keep them). The song's end is followed by the longest release."""
    synth.prepare(sample_rate, RENDER_BLOCK)
    tail = TAIL_S + max(p.envelope.release_s for p in synth.presets)
    total = int(np.ceil((song.length_s + tail) * sample_rate))
    frames_of = [(int(round(t * sample_rate)), e) for t, e in song.events]
    cursor_event = 0
    with tqdm(total=total, unit="frame", unit_scale=True, desc="rendering", disable=not progress,
              file=sys.stderr, leave=False) as bar:
        for start in range(0, total, RENDER_BLOCK):
            frames = min(RENDER_BLOCK, total - start)
            block_events = []
            while cursor_event < len(frames_of) and frames_of[cursor_event][0] < start + frames:
                frame, event = frames_of[cursor_event]
                block_events.append((frame - start, event))
                cursor_event += 1
            yield synth.process(block_events, frames)
            bar.update(frames)


def render_song(synth: Synth, song: Song, sample_rate: int, progress: bool = True) -> np.ndarray:
    """Render ``song`` through ``synth``; returns ``[frames, 2]`` float32."""
    blocks = [block.copy() for block in render_blocks(synth, song, sample_rate, progress)]
    return np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)


def render_file(synth: Synth, midi_path: Path, output: Path, sample_rate: int = 48000,
                subtype: str = "PCM_16", progress: bool = True) -> RenderReport:
    """Render a MIDI file straight into a WAV file, block by block (no song-long buffer: a long
    file needs no more memory than a short one, and nothing is copied twice)."""
    song = load_song(midi_path)
    frames, peak = 0, 0.0
    with wav_writer(output, sample_rate, 2, subtype) as handle:
        for block in render_blocks(synth, song, sample_rate, progress):
            np.clip(block, -1.0, 1.0, out=block)  # the engine's own buffer, overwritten next block
            peak = max(peak, float(np.abs(block).max()))
            handle.write(block)
            frames += len(block)
    return RenderReport(Path(output), frames / sample_rate, song.notes, synth.bank.generated, peak)


def note_name(pitch: int) -> str:
    names = ["C", "Cs", "D", "Ds", "E", "F", "Fs", "G", "Gs", "A", "As", "B"]
    return f"{names[pitch % 12]}{pitch // 12 - 1}"


def render_one_shots(synth: Synth, folder: Path, pitches: list[int], velocities: list[int],
                     duration_s: float, sample_rate: int = 48000, subtype: str = "PCM_24",
                     progress: bool = True) -> list[Path]:
    """One WAV per (pitch, velocity): the key held for ``duration_s``, then released to silence."""
    folder.mkdir(parents=True, exist_ok=True)
    synth.prepare(sample_rate, RENDER_BLOCK)
    synth.prefetch_notes([(0, p, v) for p in pitches for v in velocities])
    written = []
    hold = int(duration_s * sample_rate)
    release = int((synth.channels[0].envelope.release_s + 0.05) * sample_rate)
    for pitch in tqdm(pitches, desc="one-shots", disable=not progress, file=sys.stderr, leave=False):
        for velocity in velocities:
            synth.reset()
            total = hold + release
            out = np.zeros((total, 2), np.float32)
            for start in range(0, total, RENDER_BLOCK):
                frames = min(RENDER_BLOCK, total - start)
                events = []
                if start == 0:
                    events.append((0, ev.note_on(pitch, velocity)))
                if start <= hold < start + frames:
                    events.append((hold - start, ev.note_off(pitch)))
                out[start:start + frames] = synth.process(events, frames)
            name = f"{pitch:03d}_{note_name(pitch)}_v{velocity:03d}.wav"
            written.append(write_wav(folder / name, out, sample_rate, subtype))
    return written

