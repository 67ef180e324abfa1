"""Note data sets: single notes rendered from a SoundFont with FluidSynth.

A data set is a folder with ``audio.npy`` (``[num_notes, num_samples]``, 16-bit for
SoundFont sets and float32 for older ones, memory-mapped on load) and ``index.json``
(sample rate, and per note its program, GM name and family, pitch, velocity and split).
Notes are held for the whole clip, so a clip is "the note while the key is down"; the
host adds release and sustain looping.

FluidR3 is not in tune everywhere (its Acoustic Grand plays 39-42 a semitone sharp), so every
rendered note is measured with YIN and a note that sounds a semitone or more from its key is
dropped and counted: a pitch-conditioned model must not learn a wrong pitch as right.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
from tqdm import tqdm

from synth.errors import DataError
from synth.files import atomic_file
from synth.gm import family, family_name, program_name
from synth.pitch import pitch_error_cents

DEFAULT_SOUNDFONT = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
NOTE_SPACING_S = 1.5  # silence after each clip, for FluidSynth's release to die away


@dataclass(frozen=True)
class NoteSpec:
    program: int
    pitch: int
    velocity: int


def _note_midi(notes: list[NoteSpec], clip_s: float, path: Path) -> list[float]:
    """Write one MIDI file that plays ``notes`` one after another; return their start times (s)."""
    ticks_per_second = 960  # 480 ticks per beat at 120 bpm
    track = mido.MidiTrack()
    mid = mido.MidiFile(ticks_per_beat=480, tracks=[track])
    track.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))
    starts, now, program = [], 0, None
    lead = int(0.1 * ticks_per_second)
    for index, note in enumerate(notes):
        channel = 0
        if note.program != program:
            track.append(mido.Message("program_change", program=note.program, channel=channel, time=0))
            program = note.program
        on_tick = lead + index * int((clip_s + NOTE_SPACING_S) * ticks_per_second)
        track.append(mido.Message("note_on", note=note.pitch, velocity=note.velocity, channel=channel,
                                  time=on_tick - now))
        off_tick = on_tick + int(clip_s * ticks_per_second)
        track.append(mido.Message("note_off", note=note.pitch, velocity=0, channel=channel, time=off_tick - on_tick))
        now = off_tick
        starts.append(on_tick / ticks_per_second)
    track.append(mido.MetaMessage("end_of_track", time=int(NOTE_SPACING_S * ticks_per_second)))
    mid.save(path)
    return starts


def render_with_fluidsynth(midi_path: Path, wav_path: Path, soundfont: Path, sample_rate: int) -> None:
    """Render a MIDI file with FluidSynth, dry (no reverb or chorus), at ``sample_rate``."""
    if shutil.which("fluidsynth") is None:
        raise DataError("fluidsynth is not installed", hint="Debian: apt-get install fluidsynth fluid-soundfont-gm")
    cmd = ["fluidsynth", "-ni", "-q", "-g", "1.0", "-R", "0", "-C", "0", "-r", str(sample_rate),
           "-F", str(wav_path), str(soundfont), str(midi_path)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _slice_notes(audio: np.ndarray, starts: list[float], sample_rate: int, num_samples: int) -> np.ndarray:
    """Cut one clip per note, aligned on its first audible sample (FluidSynth starts notes on 64-sample blocks)."""
    clips = np.zeros((len(starts), num_samples), np.float32)
    for i, start in enumerate(starts):
        lo = max(0, int((start - 0.005) * sample_rate))
        window = np.abs(audio[lo:lo + int(0.05 * sample_rate)])
        above = np.nonzero(window > 1e-4)[0]
        onset = lo + (int(above[0]) if len(above) else int(0.005 * sample_rate))
        piece = audio[onset:onset + num_samples]
        clips[i, :len(piece)] = piece
    return clips


OUT_OF_TUNE_CENTS = 50.0
INT16_SCALE = 32767.0


def out_of_tune(clip: np.ndarray, sample_rate: int, pitch: int) -> float | None:
    """Cents a clip sounds off its key when that is between 50 and 250 (a wrong sample, not an
    estimator's octave slip); ``None`` when it is in tune or cannot be measured."""
    steady = clip[int(0.1 * sample_rate):int(0.6 * sample_rate)]
    cents = pitch_error_cents(steady, sample_rate, pitch)
    if cents is None or abs(cents) <= OUT_OF_TUNE_CENTS or abs(cents) > 250.0:
        return None
    return cents


def build_soundfont_dataset(out_dir: Path, programs: list[int], pitches: list[int], velocities: list[int],
                            sample_rate: int = 32000, num_samples: int = 64000,
                            soundfont: Path = DEFAULT_SOUNDFONT, validation_share: float = 0.1,
                            seed: int = 0, progress: bool = True,
                            held_out_velocities: list[int] = ()) -> Path:
    """Render every program x pitch x velocity as one held note; write the data set atomically.

    Notes at ``held_out_velocities`` are rendered too and all go to the validation split (the
    palette's evaluation asks about velocities never trained on); otherwise a random
    ``validation_share`` of the notes is held out.
    """
    held_out = set(held_out_velocities)
    velocities = sorted(set(velocities) | held_out)
    if not soundfont.exists():
        raise DataError(f"SoundFont {soundfont} does not exist", hint="Debian: apt-get install fluid-soundfont-gm")
    clip_s = num_samples / sample_rate
    clips, index = [], []
    rng = np.random.default_rng(seed)
    with tempfile.TemporaryDirectory() as tmp:
        for program in tqdm(programs, desc="rendering programs", disable=not progress):
            notes = [NoteSpec(program, p, v) for p in pitches for v in velocities]
            midi_path, wav_path = Path(tmp) / "notes.mid", Path(tmp) / "notes.wav"
            starts = _note_midi(notes, clip_s, midi_path)
            render_with_fluidsynth(midi_path, wav_path, soundfont, sample_rate)
            audio, rate = sf.read(wav_path, dtype="float32", always_2d=True)
            if rate != sample_rate:
                raise DataError(f"FluidSynth wrote {rate} Hz, asked for {sample_rate} Hz",
                                hint="pick a --sample-rate this FluidSynth supports (32000, 44100, 48000)")
            program_clips = _slice_notes(audio.mean(axis=1), starts, sample_rate, num_samples)
            # One gain per program keeps its velocity dynamics; the loudest note peaks at 0.9.
            program_clips *= 0.9 / max(float(np.abs(program_clips).max()), 1e-6)
            clips.append(program_clips)
            for note, clip in zip(notes, program_clips):
                if held_out:
                    split = "validation" if note.velocity in held_out else "train"
                else:
                    split = "validation" if rng.random() < validation_share else "train"
                index.append({"program": note.program, "name": program_name(note.program),
                              "family": family(note.program), "family_name": family_name(note.program),
                              "pitch": note.pitch, "velocity": note.velocity, "split": split,
                              "off_cents": out_of_tune(clip, sample_rate, note.pitch)})
    data = np.concatenate(clips)
    silent = np.abs(data).max(axis=1) < 1e-3
    wrong_pitch = np.array([n["off_cents"] is not None for n in index])
    keep = ~silent & ~wrong_pitch
    dropped = [f"{n['name']} {n['pitch']}@{n['velocity']}: {n['off_cents']:+.0f} cents"
               for n, bad in zip(index, wrong_pitch) if bad]
    for note in index:
        del note["off_cents"]
    audio16 = np.round(np.clip(data[keep], -1.0, 1.0) * INT16_SCALE).astype(np.int16)
    write_dataset(out_dir, audio16, [n for n, k in zip(index, keep) if k], sample_rate,
                  f"FluidSynth {soundfont.name}",
                  {"skipped_silent": int(silent.sum()), "dropped_out_of_tune": dropped,
                   "held_out_velocities": sorted(held_out)})
    return out_dir


def write_dataset(out_dir: Path, audio: np.ndarray, notes: list[dict], sample_rate: int, source: str,
                  extra: dict | None = None) -> None:
    """Write ``audio`` ``[notes, samples]`` and the notes' index as a data set (:func:`write_dataset_files`)."""
    dtype = np.int16 if audio.dtype == np.int16 else np.float32  # int16 holds INT16_SCALE x the signal
    meta = {"sample_rate": sample_rate, "num_samples": int(audio.shape[1]), "source": source, **(extra or {}),
            "notes": notes}
    write_dataset_files(out_dir, meta, dtype, [np.ascontiguousarray(audio, dtype)])


def write_dataset_files(out_dir: Path, meta: dict, dtype: type, blocks: Iterable[np.ndarray]) -> None:
    """Write ``audio.npy`` (``blocks`` of rows in order, one per note of ``meta["notes"]``, each
    ``meta["num_samples"]`` long) and ``index.json`` (``meta``) beside each other: both are written in
    full to temporary files first and renamed into place only then, so a full disk or a read-only
    folder is one sentence and leaves any data set already there as it was, with no partial file.
    The rows go through a plain file, never a memory map, so a full disk is an error, not a crash."""
    kept = "any data set there is unchanged"
    shape = (len(meta["notes"]), int(meta["num_samples"]))
    with atomic_file(Path(out_dir) / "audio.npy", label="data set ", kept=kept) as tmp_audio, \
            atomic_file(Path(out_dir) / "index.json", label="data set ", kept=kept) as tmp_index:
        with open(tmp_audio, "wb") as handle:
            np.lib.format.write_array_header_1_0(handle, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                                          "fortran_order": False, "shape": shape})
            rows = 0
            for block in blocks:
                if block.ndim != 2 or block.shape[1] != shape[1]:
                    raise ValueError(f"a block of {block.shape} rows for notes of {shape[1]} samples")
                handle.write(np.ascontiguousarray(block, dtype).tobytes())
                rows += len(block)
            if rows != shape[0]:  # a bug in the caller: the index would not describe the audio
                raise ValueError(f"{rows} rows of audio for {shape[0]} notes")
        tmp_index.write_text(json.dumps(meta, indent=1))


class ClipReader:
    """``reader[i]`` is note ``i`` of a split as float32, read from the memory-mapped file on demand
    (16-bit sets are scaled back; nothing is loaded until asked for)."""

    def __init__(self, audio: np.ndarray, rows: np.ndarray) -> None:
        self._audio, self._rows = audio, rows
        self._scale = 1.0 / INT16_SCALE if audio.dtype == np.int16 else 1.0
        self.shape = (len(rows), audio.shape[1])

    def __len__(self) -> int:
        return len(self._rows)

    def __getitem__(self, index) -> np.ndarray:
        rows = self._rows[index]
        if isinstance(rows, np.ndarray):
            order = np.argsort(rows)  # memory-mapped reads in file order
            out = np.empty((len(rows), self.shape[1]), np.float32)
            out[order] = self._audio[rows[order]]
        else:
            out = np.asarray(self._audio[rows], np.float32)
        if self._scale != 1.0:
            out *= self._scale
        return out


@dataclass
class NoteDataset:
    """A built data set, memory-mapped: ``audio[i]`` is ``[num_samples]`` float32."""

    audio: ClipReader
    pitch: np.ndarray
    velocity: np.ndarray
    program: np.ndarray
    sample_rate: int
    description: str
    names: dict[int, str]

    @classmethod
    def load(cls, folder: Path, split: str | None = "train") -> NoteDataset:
        meta = json.loads((Path(folder) / "index.json").read_text())
        audio = np.load(Path(folder) / "audio.npy", mmap_mode="r")
        rows = np.array([i for i, n in enumerate(meta["notes"]) if split is None or n["split"] == split], np.int64)
        notes = [meta["notes"][i] for i in rows]
        programs = np.array([n["program"] for n in notes], np.int64)
        names = {int(p): next((n.get("name") for n in notes if n["program"] == p), None) or f"program {p}"
                 for p in np.unique(programs)}
        return cls(audio=ClipReader(audio, rows), pitch=np.array([n["pitch"] for n in notes], np.int64),
                   velocity=np.array([n["velocity"] for n in notes], np.float32) / 127.0,
                   program=programs, sample_rate=int(meta["sample_rate"]), description=meta["source"],
                   names=names)

    def __len__(self) -> int:
        return len(self.pitch)
