"""First measures of the palette model (issue 13): does its latent space hold the instruments?

From a checkpoint trained with the encoder and a data set with held-out velocities:
- **presets**: each program's latent, the mean of the encoder's posterior means over its
  training notes;
- **nearest instrument**: notes generated from each preset at held-out velocities; for each, the
  nearest held-out real note of the same pitch (log-mel statistics, standardised) is of the
  same program? of the same GM family? Beside it, real against real: each held-out note at the
  lower held-out velocity against those at the higher one;
- **latent separation**: held-out notes encoded, and the nearest preset is their own program's;
- **reconstruction**: held-out notes encoded and decoded, log-mel distance to the original,
  beside the distance between two velocities of the same real note;
- **vibrato**: the f0's spread (cents) over a second of the preset's notes at the higher held-out
  velocity, beside the real held-out notes' (sax, flute and strings carry one in FluidR3).
Needs torch (the encoder runs there); the runtime's own measures stay in ``synth eval``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from synth.errors import DataError
from synth.gm import family, family_name, program_name
from synth.pitch import pitch_error_cents

from .data import NoteDataset
from .instruments import encode_notes, instrument_directions, instrument_latents
from .metrics import frechet_distance, note_features, vibrato_cents
from .models import build_generator
from .train import build_encoder, load_checkpoint

PITCHES = (48, 55, 60, 67, 72)
BATCH = 16
KNOBS_JUDGED = 4  # the bar: each of the first four knobs reaches half-way to another instrument


@dataclass
class PaletteReport:
    step: int
    rows: list[tuple[str, float, float, float, float, float]]  # name, program acc, family acc, separation,
    # vibrato of the generated notes and of the real ones (cents, NaN where none was measured)
    program_accuracy: float
    family_accuracy: float
    real_program_accuracy: float
    real_family_accuracy: float
    separation: float
    reconstruction: float
    real_reconstruction: float
    pitch_accuracy: float = float("nan")  # generated notes within 50 cents of their key (YIN)
    real_pitch_accuracy: float = float("nan")  # the held-out real notes judged the same way
    knob_reach: list[float] = field(default_factory=list)  # per knob: sweep distance / median between instruments
    knob_in_tune: list[float] = field(default_factory=list)  # per knob: the sweep's notes within 50 cents
    map_points: dict = field(default_factory=dict)  # for the timbre map (training/timbre_map.py)
    frechet: dict = field(default_factory=dict)  # per GM family: (generated vs real, real vs real, ratio)
    pitch_accuracy_readable: float = float("nan")  # the same, over the instruments whose real notes YIN reads
    unreadable: list[str] = field(default_factory=list)  # instruments whose real held-out notes it mostly cannot

    def table(self) -> str:
        lines = [f"palette model at step {self.step}",
                 "| instrument | nearest held-out note: same program | same family | encoded notes nearest "
                 "their preset | vibrato, cents: generated / real |", "|---|---|---|---|---|"]
        lines += [f"| {name} | {100 * p:.0f}% | {100 * f:.0f}% | {100 * s:.0f}% | {vg:.1f} / {vr:.1f} |"
                  for name, p, f, s, vg, vr in self.rows]
        lines += [f"| **all** | **{100 * self.program_accuracy:.1f}%** (real vs real "
                  f"{100 * self.real_program_accuracy:.1f}%) | **{100 * self.family_accuracy:.1f}%** (real vs real "
                  f"{100 * self.real_family_accuracy:.1f}%) | **{100 * self.separation:.1f}%** |",
                  f"reconstruction of held-out notes, log-mel distance: {self.reconstruction:.2f} "
                  f"(two velocities of one real note: {self.real_reconstruction:.2f})",
                  f"pitch: {100 * self.pitch_accuracy:.1f}% of the generated notes within 50 cents (YIN; "
                  f"the held-out real notes at the same keys: {100 * self.real_pitch_accuracy:.1f}%)"
                  + (f"; {100 * self.pitch_accuracy_readable:.1f}% without the instruments whose real notes it "
                     f"cannot read ({', '.join(self.unreadable)})" if self.unreadable else "")]
        if self.frechet:
            lines.append("Fréchet distance per family (generated at the lower held-out velocity against real notes "
                         "at the higher; real lower against real higher; ratio, goal <= 2): " + "; ".join(
                             f"{name} {g:.1f} / {r:.1f} = {ratio:.2f}" for name, (g, r, ratio) in self.frechet.items()))
        for k, (reach, tune) in enumerate(zip(self.knob_reach, self.knob_in_tune)):
            lines.append(f"knob {k + 1}: a full sweep travels {reach:.2f} x the median distance between two "
                         f"instruments; {100 * tune:.0f}% of its notes in tune")
        return "\n".join(lines)


def _standardise(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    both = np.concatenate([a, b])
    mean, std = both.mean(axis=0), both.std(axis=0) + 1e-6
    return (a - mean) / std, (b - mean) / std


@torch.no_grad()
def palette_report(checkpoint: Path, data_dir: Path, threads: int | None = None,
                   instruments: Path | None = None) -> PaletteReport:
    """Every palette figure of ``checkpoint`` on ``data_dir``'s held-out notes (torch on ``threads``
    CPU threads when given: 1 beside a training run). The knobs are those of a plugin exported with
    ``--data instruments`` (default ``data_dir``): a model trained on more instruments than it is
    judged on keeps the knobs its plugin has."""
    if threads:
        torch.set_num_threads(threads)
    state = load_checkpoint(checkpoint)
    config = state["config"]
    encoder = build_encoder(config)
    if encoder is None or "encoder" not in state:
        raise DataError(f"{checkpoint} has no encoder", hint="train with encoder.enabled = true (palette.toml)")
    encoder.load_state_dict(state["encoder"])
    generator = build_generator(config)
    generator.load_state_dict(state["ema"])
    encoder.eval()
    generator.eval()
    train, held = NoteDataset.load(Path(data_dir), "train"), NoteDataset.load(Path(data_dir), "validation")
    if not len(held):
        raise DataError(f"{data_dir} holds no validation notes", hint="build it with --held-out-velocities")
    rate = train.sample_rate

    def encode(data: NoteDataset, rows: np.ndarray) -> np.ndarray:
        return encode_notes(encoder, data, rows)

    programs = sorted(set(train.program.tolist()))
    train_latents = encode(train, np.arange(len(train)))
    presets = {p: train_latents[train.program == p].mean(axis=0) for p in programs}

    kept = sorted(set(held.pitch.tolist()))  # a data set without the usual keys: up to five of its own
    pitches = [p for p in PITCHES if p in kept] or kept[::max(1, len(kept) // 5)]
    velocities = sorted(set(np.round(held.velocity * 127).astype(int).tolist()))
    rows, all_program, all_family, in_tune, tune_programs = [], [], [], [], []
    held_rows = np.flatnonzero(np.isin(held.pitch, pitches))
    held_features = note_features(held.audio[held_rows], rate)
    held_latents = encode(held, np.arange(len(held)))
    preset_matrix = np.stack([presets[p] for p in programs])
    for program in programs:
        z, pitch, velocity = [], [], []
        for p in pitches:
            for v in velocities:
                z.append(presets[program])
                pitch.append(p)
                velocity.append(v / 127.0)
        audio = generator(torch.from_numpy(np.stack(z).astype(np.float32)), torch.tensor(pitch),
                          torch.tensor(velocity, dtype=torch.float32)).numpy()
        generated = note_features(audio[:, :held.audio.shape[1]], rate)
        in_tune += [_in_tune(note, rate, p) for note, p in zip(audio, pitch)]
        tune_programs += [program] * len(pitch)
        gen_std, real_std = _standardise(generated, held_features)
        same_program, same_family = [], []
        for i, p in enumerate(pitch):
            candidates = np.flatnonzero(held.pitch[held_rows] == p)
            nearest = candidates[np.argmin(np.linalg.norm(real_std[candidates] - gen_std[i], axis=1))]
            found = int(held.program[held_rows][nearest])
            same_program.append(found == program)
            same_family.append(family(found) == family(program))
        mine = held.program == program
        distances = np.linalg.norm(held_latents[mine][:, None] - preset_matrix[None], axis=2)
        separation = float(np.mean(np.array(programs)[np.argmin(distances, axis=1)] == program))
        loud = [i for i, v in enumerate(velocity) if v == velocity[-1]]  # the higher held-out velocity
        real_loud = [int(i) for i in held_rows if held.program[i] == program
                     and round(float(held.velocity[i]) * 127) == round(velocity[-1] * 127)]
        rows.append((program_name(program), float(np.mean(same_program)), float(np.mean(same_family)), separation,
                     _mean_vibrato([(audio[i], pitch[i]) for i in loud], rate),
                     _mean_vibrato([(np.asarray(held.audio[i], np.float32), int(held.pitch[i])) for i in real_loud],
                                   rate)))
        all_program += same_program
        all_family += same_family

    # Real against real: held-out notes at the lower velocity against those at the higher one.
    low, high = velocities[0], velocities[-1]
    real_program, real_family = [], []
    vel = np.round(held.velocity[held_rows] * 127).astype(int)
    _, real_std = _standardise(held_features, held_features)
    for i in np.flatnonzero(vel == low):
        candidates = np.flatnonzero((vel == high) & (held.pitch[held_rows] == held.pitch[held_rows][i]))
        if not len(candidates):
            continue
        nearest = candidates[np.argmin(np.linalg.norm(real_std[candidates] - real_std[i], axis=1))]
        a, b = int(held.program[held_rows][i]), int(held.program[held_rows][nearest])
        real_program.append(a == b)
        real_family.append(family(a) == family(b))

    # Reconstruction: held-out notes through the encoder's mean and the generator.
    recon = generator(torch.from_numpy(held_latents[held_rows].astype(np.float32)),
                      torch.from_numpy(held.pitch[held_rows]), torch.from_numpy(held.velocity[held_rows])).numpy()
    recon_features = note_features(recon[:, :held.audio.shape[1]], rate)
    reconstruction = float(np.mean(np.linalg.norm(recon_features - held_features, axis=1)))
    pairs = []
    for i in np.flatnonzero(vel == low):
        twin = np.flatnonzero((vel == high) & (held.pitch[held_rows] == held.pitch[held_rows][i])
                              & (held.program[held_rows] == held.program[held_rows][i]))
        if len(twin):
            pairs.append(np.linalg.norm(held_features[i] - held_features[twin[0]]))
    separation = float(np.mean([np.argmin(np.linalg.norm(preset_matrix - latent, axis=1)) == programs.index(p)
                                for latent, p in zip(held_latents, held.program)]))
    frechet = _frechet_by_family(generator, presets, held, low, high)
    plugin_programs, plugin_latents = programs, preset_matrix
    if instruments is not None:
        plugin_programs, plugin_latents = instrument_latents(encoder, NoteDataset.load(Path(instruments), "train"))
    directions, spreads, _ = instrument_directions(plugin_latents, KNOBS_JUDGED, generator)
    reach, knob_tune = _knob_reach(generator, preset_matrix, directions, spreads, held, held_rows, held_features,
                                   pitches)
    centre = plugin_latents.mean(axis=0)
    points = {"names": [program_name(p) for p in plugin_programs], "programs": plugin_programs,
              "instruments": ((plugin_latents - centre) @ directions[:2].T).tolist(),
              "notes": ((held_latents - centre) @ directions[:2].T).tolist(), "note_programs": held.program.tolist(),
              "spreads": spreads[:2].tolist()}
    # Real beside generated: the estimator cannot read every real instrument either (FluidR3's
    # Drawbar Organ: none of its held-out notes).
    real_in_tune = [_in_tune(np.asarray(held.audio[i], np.float32), rate, int(held.pitch[i])) for i in held_rows]
    # An instrument whose real notes the estimator cannot read cannot be judged by it either: the
    # pitch accuracy again over the instruments it reads (most of their real held-out notes).
    real_programs = held.program[held_rows]
    unreadable = [p for p in programs if np.mean(np.array(real_in_tune)[real_programs == p]) < 0.5]
    readable = [t for t, p in zip(in_tune, tune_programs) if p not in unreadable]
    return PaletteReport(int(state["step"]), rows, float(np.mean(all_program)), float(np.mean(all_family)),
                         float(np.mean(real_program)), float(np.mean(real_family)), separation, reconstruction,
                         float(np.mean(pairs)) if pairs else float("nan"), float(np.mean(in_tune)),
                         float(np.mean(real_in_tune)), reach, knob_tune, points, frechet,
                         float(np.mean(readable)) if readable else float("nan"),
                         [program_name(p) for p in unreadable])


@torch.no_grad()
def _frechet_by_family(generator, presets: dict[int, np.ndarray], held: NoteDataset, low: int,
                       high: int) -> dict[str, tuple[float, float, float]]:
    """Per GM family: the Fréchet distance (log-mel statistics) of notes generated from its
    instruments' presets at every held-out key at velocity ``low`` to the real held-out notes at
    ``high``, beside the real notes at ``low`` against the same; and their ratio."""
    velocity = np.round(held.velocity * 127).astype(int)
    rate, length = held.sample_rate, held.audio.shape[1]
    out = {}
    for fam in sorted({family(p) for p in presets}):
        programs = [p for p in presets if family(p) == fam]
        real_low = np.flatnonzero(np.isin(held.program, programs) & (velocity == low))
        real_high = np.flatnonzero(np.isin(held.program, programs) & (velocity == high))
        if len(real_low) < 4 or len(real_high) < 4:
            continue
        z = np.stack([presets[int(held.program[i])] for i in real_low]).astype(np.float32)
        audio = np.concatenate([
            generator(torch.from_numpy(z[i:i + BATCH]), torch.from_numpy(held.pitch[real_low[i:i + BATCH]]),
                      torch.full((len(z[i:i + BATCH]),), low / 127.0)).numpy()
            for i in range(0, len(z), BATCH)])
        generated = note_features(audio[:, :length], rate)
        reference = note_features(held.audio[real_high], rate)
        real = note_features(held.audio[real_low], rate)
        fake_d, real_d = frechet_distance(generated, reference), frechet_distance(real, reference)
        out[family_name(programs[0])] = (fake_d, real_d, fake_d / max(real_d, 1e-9))
    return out


def _mean_vibrato(notes: list[tuple[np.ndarray, int]], rate: int) -> float:
    depths = [d for d in (vibrato_cents(note, rate, p) for note, p in notes) if d is not None]
    return float(np.mean(depths)) if depths else float("nan")


def _in_tune(note: np.ndarray, rate: int, pitch: int) -> bool:
    cents = pitch_error_cents(note[int(0.1 * rate):int(0.6 * rate)], rate, pitch)
    return cents is not None and abs(cents) <= 50.0


@torch.no_grad()
def _knob_reach(generator, presets: np.ndarray, directions: np.ndarray, spreads: np.ndarray, held: NoteDataset,
                held_rows: np.ndarray, held_features: np.ndarray,
                pitches: list[int]) -> tuple[list[float], list[float]]:
    """Per knob: how far a full sweep (knob at 0 against knob at 1, from every instrument, at every
    judged pitch) travels in the nearest-instrument feature space, over the median distance
    between two held-out real notes of different programs at the same pitch and velocity; and the
    share of the sweep's notes in tune."""
    mean, std = held_features.mean(axis=0), held_features.std(axis=0) + 1e-6
    real = (held_features - mean) / std
    pitch, velocity, program = held.pitch[held_rows], held.velocity[held_rows], held.program[held_rows]
    between = [np.linalg.norm(real[i] - real[j]) for i in range(len(real)) for j in range(i + 1, len(real))
               if pitch[i] == pitch[j] and velocity[i] == velocity[j] and program[i] != program[j]]
    reference = float(np.median(between))
    rate, length = held.sample_rate, held.audio.shape[1]
    reach, in_tune = [], []
    for k in range(len(directions)):
        z, keys = [], []
        for preset in presets:
            for p in pitches:
                for end in (-1.0, 1.0):
                    z.append(preset + end * spreads[k] * directions[k])
                    keys.append(p)
        audio = np.concatenate([
            generator(torch.from_numpy(np.stack(z[i:i + BATCH]).astype(np.float32)), torch.tensor(keys[i:i + BATCH]),
                      torch.full((len(keys[i:i + BATCH]),), 100 / 127)).numpy()
            for i in range(0, len(z), BATCH)])
        described = (note_features(audio[:, :length], rate) - mean) / std
        reach.append(float(np.median(np.linalg.norm(described[0::2] - described[1::2], axis=1))) / reference)
        in_tune.append(float(np.mean([_in_tune(note, rate, p) for note, p in zip(audio, keys)])))
    return reach, in_tune
