"""A note data set from a folder of one-shot recordings (WAV, FLAC, AIFF, OGG).

Each file becomes one note: mixed to mono, resampled down to the data set's rate,
started at its onset, cut or padded to a fixed length (with a short fade where it
is cut) and loudness-normalised as one set (the loudest file peaks at 0.9, so
relative dynamics survive). The pitch comes from the file name (``C4``, ``F#2``,
``Bb3``, NSynth's ``name-060-100``, ``pitch60``, ``midi_60``) or, failing that, from
the YIN estimator. Unusable files are skipped and counted by reason.
"""

from __future__ import annotations

import collections
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from tqdm import tqdm

from synth.errors import DataError
from synth.pitch import estimate_f0, hz_to_midi
from training.data import write_dataset

AUDIO_SUFFIXES = (".wav", ".flac", ".aif", ".aiff", ".ogg")
SILENCE_PEAK = 1e-3
ONSET_SHARE = 0.05  # the note starts where it first reaches 5% of its peak (minus a little)
FADE_S = 0.01
NOTE_NAMES = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_NSYNTH = re.compile(r"-(\d{3})-(\d{3})$")
_NUMBERED = re.compile(r"(?:pitch|midi|note)[_-]?(\d{1,3})(?!\d)", re.IGNORECASE)
_NAMED = re.compile(r"(?<![A-Za-z])([A-Ga-g])(#|b|s|sharp|flat)?(-?\d)(?![\d])")


def pitch_from_name(stem: str) -> tuple[int | None, int | None]:
    """MIDI pitch (and velocity, when the name holds one) from a file name; ``(None, None)`` if absent."""
    match = _NSYNTH.search(stem)
    if match:
        return int(match.group(1)), int(match.group(2))
    match = _NUMBERED.search(stem)
    if match and 0 <= int(match.group(1)) <= 127:
        return int(match.group(1)), None
    match = _NAMED.search(stem)
    if match:
        letter, accidental, octave = match.group(1).upper(), match.group(2) or "", int(match.group(3))
        shift = 1 if accidental in ("#", "s", "sharp") else -1 if accidental in ("b", "flat") else 0
        pitch = 12 * (octave + 1) + NOTE_NAMES[letter] + shift  # C4 = 60
        if 0 <= pitch <= 127:
            return pitch, None
    return None, None


@dataclass
class FolderReport:
    kept: int = 0
    skipped: collections.Counter = field(default_factory=collections.Counter)
    estimated_pitch: int = 0

    def summary(self) -> str:
        reasons = ", ".join(f"{count} {reason}" for reason, count in self.skipped.most_common())
        return (f"{self.kept} notes kept ({self.estimated_pitch} with estimated pitch); "
                f"{sum(self.skipped.values())} files skipped" + (f": {reasons}" if reasons else ""))


def _load_note(path: Path, sample_rate: int, num_samples: int) -> tuple[np.ndarray | None, str]:
    try:
        audio, rate = sf.read(path, dtype="float32", always_2d=True)
    except Exception:  # libsndfile refuses in many ways; all mean "cannot read this file"
        return None, "unreadable"
    if rate < sample_rate:
        return None, f"below {sample_rate} Hz"
    mono = audio.mean(axis=1)
    if not np.all(np.isfinite(mono)) or len(mono) == 0 or np.abs(mono).max() < SILENCE_PEAK:
        return None, "silent"
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate, quality="HQ").astype(np.float32)
    peak = np.abs(mono).max()
    onset = max(0, int(np.argmax(np.abs(mono) >= ONSET_SHARE * peak)) - int(0.002 * sample_rate))
    note = mono[onset:onset + num_samples]
    if len(note) < int(0.1 * sample_rate):
        return None, "shorter than 0.1 s"
    out = np.zeros(num_samples, np.float32)
    if len(note) == num_samples and len(mono) > onset + num_samples:  # cut short: fade out, no click
        fade = int(FADE_S * sample_rate)
        note = note.copy()
        note[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
    out[:len(note)] = note
    return out, ""


def _estimate_pitch(note: np.ndarray, sample_rate: int) -> int | None:
    f0 = estimate_f0(note[int(0.05 * sample_rate):int(0.5 * sample_rate)], sample_rate, lowpass_hz=4000.0)
    return None if f0 is None else int(round(hz_to_midi(f0)))


def build_folder_dataset(source: Path, out_dir: Path, sample_rate: int = 32000, num_samples: int = 64000,
                         validation_share: float = 0.1, progress: bool = True) -> FolderReport:
    """Read every audio file under ``source``; write the data set to ``out_dir`` (atomically)."""
    files = sorted(p for p in Path(source).rglob("*") if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES)
    report = FolderReport()
    if not files:
        raise DataError(f"no audio files ({', '.join(AUDIO_SUFFIXES)}) under {source}",
                        hint="point it at a folder of one-shot recordings")
    notes, index = [], []
    for path in tqdm(files, desc="reading notes", disable=not progress):
        note, problem = _load_note(path, sample_rate, num_samples)
        if note is None:
            report.skipped[problem] += 1
            continue
        pitch, velocity = pitch_from_name(path.stem)
        if pitch is None:
            pitch = _estimate_pitch(note, sample_rate)
            if pitch is None:
                report.skipped["no pitch found"] += 1
                continue
            report.estimated_pitch += 1
        # The split follows the file name, so adding files never moves old ones between splits.
        share = zlib.crc32(str(path.relative_to(source)).encode()) / 2**32
        notes.append(note)
        index.append({"program": 0, "pitch": pitch, "velocity": velocity or 100, "file": str(path.relative_to(source)),
                      "split": "validation" if share < validation_share else "train"})
    report.kept = len(notes)
    if not notes:
        raise DataError(f"none of the {len(files)} audio files under {source} is usable ({report.summary()})",
                        hint="each file should hold one pitched note, named like C4.wav or x-060-100.wav")
    audio = np.stack(notes)
    audio *= 0.9 / float(np.abs(audio).max())
    write_dataset(Path(out_dir), audio, index, sample_rate, f"folder {Path(source).name}",
                  {"skipped": dict(report.skipped)})
    return report
