"""A one-shot sample to a latent, with the palette model's own encoder (contract v2), no torch.

The sample is read (any rate soundfile reads; stereo mixed to mono), resampled to the model's
rate, cut from its first audible sample (as the training notes were), and its pitch estimated by
YIN when not given. The log-mel of its first ``encoder_samples`` goes through the encoder network
the plugin carries (:mod:`synth.plugin.features` computes it as training did).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ModelError
from ..pitch import estimate_f0, hz_to_midi
from .contract import Manifest
from .features import log_mel

ONSET_LEVEL = 1e-4  # the training notes start at their first sample above this (training/data.py)
SILENT_PEAK = 1e-3  # -60 dBFS
MIN_SOUND_S = 0.1
VELOCITY = 100 / 127  # the encoder reads a note's velocity too; a sample's is unknown


@dataclass
class EncodedSample:
    latent: np.ndarray  # [latent_dim]
    pitch: int  # MIDI, as given or estimated
    estimated: bool  # the pitch came from YIN
    cents: float  # the estimate's distance from that key (0 when given)
    source_rate: int
    channels: int
    audio: np.ndarray  # the sample at the model's rate, from its onset


def read_sample(path: Path, sample_rate: int) -> tuple[np.ndarray, int, int]:
    """``path`` as mono float32 at ``sample_rate``, from its first audible sample; with its own
    rate and channel count. Silence and a file too short to be a note are refused."""
    import soundfile as sf
    import soxr

    try:
        audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise DataError(f"{path} is not an audio file this can read ({str(exc).splitlines()[0][:120]})",
                        hint="give a WAV, FLAC or Ogg file") from None
    channels = audio.shape[1]
    mono = audio.mean(axis=1)
    if not len(mono) or not np.all(np.isfinite(mono)) or float(np.abs(mono).max()) < SILENT_PEAK:
        raise DataError(f"{path} is silent (no sample above -60 dBFS)", hint="give a recording of one note")
    if rate != sample_rate:
        mono = soxr.resample(mono, rate, sample_rate).astype(np.float32)
    onset = int(np.argmax(np.abs(mono) > ONSET_LEVEL))
    mono = mono[onset:]
    loud = np.flatnonzero(np.abs(mono) > 0.1 * float(np.abs(mono).max()))
    if len(mono) < MIN_SOUND_S * sample_rate or (loud[-1] - loud[0]) < MIN_SOUND_S * sample_rate / 4:
        raise DataError(f"{path} is too short to be a note ({len(mono) / sample_rate * 1000:.0f} ms of sound; "
                        f"at least {MIN_SOUND_S * 1000:.0f} ms)", hint="give a longer one-shot")
    return mono, rate, channels


def sample_pitch(audio: np.ndarray, sample_rate: int, path: Path) -> tuple[int, float]:
    """The MIDI key of a one-shot by YIN over its steady part, and how many cents off it is; a
    sample with no steady pitch (noise, a drum) is refused."""
    steady = audio[int(0.05 * sample_rate):int(0.55 * sample_rate)]
    f0 = estimate_f0(steady, sample_rate, fmin_hz=30.0, fmax_hz=2000.0, threshold=0.15)
    if f0 is None:
        raise DataError(f"{path} has no pitch to find (noise, or a drum?)",
                        hint="give its key with --pitch N if it is a pitched sound")
    midi = hz_to_midi(f0)
    key = int(round(midi))
    return key, float(100.0 * (midi - key))


class SampleEncoder:
    """The plugin's encoder network in onnxruntime (CPU: one sample at a time, off the audio path)."""

    def __init__(self, manifest: Manifest) -> None:
        if not manifest.encoder:
            raise ModelError(f"the model {manifest.name!r} has no encoder (a contract v{manifest.contract_version} "
                             "plugin without instruments)",
                             hint="use a palette model, e.g. the default model of this version")
        import onnxruntime as ort

        self.manifest = manifest
        try:
            self.session = ort.InferenceSession(base64.b64decode(manifest.encoder), providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001  onnxruntime raises its own types for a broken graph
            raise ModelError(f"the model's encoder does not load ({str(exc).splitlines()[0][:160]})") from None

    def encode(self, audio: np.ndarray, pitch: int, velocity: float = VELOCITY) -> np.ndarray:
        m = self.manifest
        clip = np.zeros(m.encoder_samples, np.float32)
        clip[:min(len(audio), m.encoder_samples)] = audio[:m.encoder_samples]
        recipe = m.encoder_features
        mel = log_mel(clip[None], m.sample_rate, int(recipe["n_fft"]), int(recipe["hop"]), int(recipe["num_mels"]),
                      float(recipe["fmin"]), float(recipe["floor"]))
        pitch = min(max(int(pitch), m.pitch_min), m.pitch_max)
        out = self.session.run(None, {"mel": mel, "pitch": np.array([pitch], np.int64),
                                      "velocity": np.array([velocity], np.float32)})[0]
        return out[0].astype(np.float32)


def encode_sample(manifest: Manifest, path: Path, pitch: int | None = None) -> EncodedSample:
    """``path``'s timbre as a latent of ``manifest``'s model (see the module's docstring)."""
    encoder = SampleEncoder(manifest)
    audio, rate, channels = read_sample(Path(path), manifest.sample_rate)
    cents, estimated = 0.0, pitch is None
    if pitch is None:
        pitch, cents = sample_pitch(audio, manifest.sample_rate, Path(path))
    if not manifest.pitch_min - 12 <= pitch <= manifest.pitch_max + 12:
        raise DataError(f"{path} sounds at MIDI {pitch}, outside the model's notes {manifest.pitch_min}-"
                        f"{manifest.pitch_max} (and an octave either side)",
                        hint="give a sample in that range, or its key with --pitch if the estimate is wrong")
    return EncodedSample(encoder.encode(audio, pitch), pitch, estimated, cents, rate, channels, audio)


def nearest_instrument(manifest: Manifest, latent: np.ndarray) -> dict | None:
    """The model's instrument whose latent is nearest ``latent`` (None without instruments)."""
    if not manifest.instruments:
        return None
    distances = [float(np.linalg.norm(np.asarray(item["latent"], np.float32) - latent))
                 for item in manifest.instruments]
    return manifest.instruments[int(np.argmin(distances))]
