"""Several recordings of the same instruments in one data set: ``synth dataset merge``.

One SoundFont is one recording of each instrument. A palette trained on one learns that recording's
timbres, and its encoder has only that recording to place a sound it never heard against. Trained
on two recordings of each instrument (FluidR3 and MuseScore General, say), the decoder hears more of
what an instrument may sound like (docs/training.md, "Two recordings": with two, a sample's latent
alone kept its family more often; the coloured preset did not gain).

Merging keeps every note as it is: its GM program, pitch, velocity and split, plus ``source``, the
data set it came from (a merged set's notes keep theirs). The audio is copied in blocks into one
file, written to a temporary file first and renamed into place only when whole (as every data set
is written).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synth.errors import DataError
from training.data import write_dataset_files

BLOCK_ROWS = 2048  # notes copied at a time: a few hundred MB at 2 s and 32 kHz


def merge_datasets(out_dir: Path, folders: list[Path]) -> Path:
    """Write the notes of ``folders`` (data sets of one sample rate and clip length) to ``out_dir``."""
    if len(folders) < 2:
        raise DataError("merging needs at least two data sets", hint="synth dataset merge DATA1 DATA2 -o OUT")
    if len({Path(f).resolve() for f in folders}) < len(folders):
        raise DataError("the same data set is named twice", hint="name each data set once")
    metas, arrays = zip(*(_open(Path(folder)) for folder in folders))
    first = metas[0]
    for folder, meta, audio in zip(folders[1:], metas[1:], arrays[1:]):
        if meta["sample_rate"] != first["sample_rate"] or audio.shape[1] != arrays[0].shape[1]:
            raise DataError(f"{folder} has {audio.shape[1]} samples a note at {meta['sample_rate']} Hz, "
                            f"{folders[0]} {arrays[0].shape[1]} at {first['sample_rate']} Hz",
                            hint="build both with the same --sample-rate and --seconds")
        if audio.dtype != arrays[0].dtype:
            raise DataError(f"{folder} stores its audio as {audio.dtype}, {folders[0]} as {arrays[0].dtype}",
                            hint="rebuild the older one with synth dataset")
    notes = [{**note, "source": note.get("source", meta["source"])} for meta in metas for note in meta["notes"]]
    meta = {"sample_rate": first["sample_rate"], "num_samples": int(arrays[0].shape[1]),
            "source": " + ".join(m["source"] for m in metas), "merged_from": [str(f) for f in folders],
            "held_out_velocities": sorted({v for m in metas for v in m.get("held_out_velocities", [])}),
            "notes": notes}
    blocks = (audio[start:start + BLOCK_ROWS] for audio in arrays for start in range(0, len(audio), BLOCK_ROWS))
    write_dataset_files(Path(out_dir), meta, arrays[0].dtype, blocks)
    return Path(out_dir)


def _open(folder: Path) -> tuple[dict, np.ndarray]:
    """A data set's index and its audio, memory-mapped; a folder that is not one is one sentence."""
    index, audio_path = folder / "index.json", folder / "audio.npy"
    if not index.is_file() or not audio_path.is_file():
        raise DataError(f"{folder} is not a data set (no index.json and audio.npy)",
                        hint="build one with synth dataset soundfont or synth dataset folder")
    try:
        meta = json.loads(index.read_text())
        audio = np.load(audio_path, mmap_mode="r")
    except (OSError, ValueError) as exc:
        raise DataError(f"{folder} is not a readable data set ({str(exc).splitlines()[0][:120]})") from None
    if (not isinstance(meta, dict) or not {"sample_rate", "source", "notes"} <= set(meta)
            or audio.ndim != 2 or len(meta["notes"]) != len(audio)):
        raise DataError(f"{folder}'s index.json and audio.npy disagree on its notes",
                        hint="rebuild it with synth dataset")
    return meta, audio
