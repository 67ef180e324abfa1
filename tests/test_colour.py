"""A sample's colour (synth/notes/colour.py): fitted to the built-in model's real notes, applied by
the engine to a preset's notes, kept apart in the note cache, written to and read from preset files."""

from __future__ import annotations

import numpy as np
import pytest

from synth.engine.latent import Preset
from synth.engine.synth import Synth
from synth.errors import ConfigError
from synth.midi import events as ev
from synth.notes.colour import BANDS, HOLD_S, MAX_GAIN_DB, Colour, fit_colour
from synth.plugin.features import mel_filterbank

RATE = 32000


def _notes(model, names: list[str], keys: list[int]) -> np.ndarray:
    latents = {item["name"]: np.asarray(item["latent"], np.float32) for item in model.manifest.instruments}
    z = np.stack([latents[name] for name in names])
    return model.generate(z, np.array(keys, np.int64), np.full(len(keys), 0.8, np.float32))


def _band_db(note: np.ndarray, parts: int = 4) -> np.ndarray:
    """Mel-band levels (dB) of ``parts`` stretches of the note: its balance and how it evolves."""
    bank = mel_filterbank(BANDS, 1024, RATE)
    out = []
    for part in np.array_split(note, parts):
        frames = np.lib.stride_tricks.sliding_window_view(part, 1024)[::256]
        power = (np.abs(np.fft.rfft(frames * np.hanning(1024), axis=1)) ** 2).mean(axis=0)
        out.append(10 * np.log10(bank @ power + 1e-9))
    levels = np.concatenate(out)
    return levels - levels.max()


def test_a_colour_fitted_to_the_note_itself_changes_nothing(default_model):
    note = _notes(default_model, ["Violin"], [60])[0]
    colour = fit_colour(note, note, RATE)
    assert np.abs(colour.gains_db).max() < 1e-3
    assert np.linalg.norm(colour.apply(note, RATE) - note) < 1e-4 * np.linalg.norm(note)


def test_a_colour_takes_the_models_note_toward_the_sample_at_every_key(default_model):
    # The "sample" is another instrument's note: the Flute's colour put on the Electric Piano. Not
    # all the way: the colour shapes bands, not the partials inside them (0.28 of the way left with
    # 24 bands by 16 ms down to -75 dB; 16 by 64 ms down to -60 dB left more than half).
    ep, flute, ep_high, flute_high = _notes(default_model, ["Electric Piano 1", "Flute"] * 2, [60, 60, 67, 67])
    colour = fit_colour(flute, ep, RATE)
    coloured = colour.apply(ep, RATE)
    assert np.linalg.norm(_band_db(coloured) - _band_db(flute)) < 0.45 * np.linalg.norm(_band_db(ep) - _band_db(flute))
    assert np.dot(coloured, coloured) == pytest.approx(np.dot(ep, ep), rel=1e-3)  # level is the velocity's
    # A fifth up, the same gains still bring it nearer (not as near: they were fitted at 60).
    up = colour.apply(ep_high, RATE)
    assert np.linalg.norm(_band_db(up) - _band_db(flute_high)) < 0.5 * np.linalg.norm(
        _band_db(ep_high) - _band_db(flute_high))


def test_a_short_sample_holds_the_gains_of_its_last_stretch_instead_of_falling_silent(default_model):
    ep, flute = _notes(default_model, ["Electric Piano 1", "Flute"], [60, 60])
    colour = fit_colour(flute[: RATE // 4], ep, RATE)  # a quarter of a second of the flute
    per_segment = round(colour.segment_s * RATE / 256)
    fitted = ((RATE // 4 - 1024) // 256 + 1) // per_segment  # whole segments the quarter second fills
    assert len(colour.gains_db) > 3 * fitted
    held = colour.gains_db[fitted:]
    assert np.allclose(held, held[0], atol=1e-4)
    # What holds is the last HOLD_S of the sample (averaged in dB), not its very last 16 ms.
    last = colour.gains_db[fitted - round(HOLD_S / colour.segment_s):fitted]
    assert np.abs(held[0] - last.mean(axis=0)).max() < 0.5
    assert np.abs(colour.gains_db).max() <= MAX_GAIN_DB + 1e-4


def test_a_coloured_preset_plays_its_colour_and_never_shares_a_cached_note(default_model):
    ep, flute = _notes(default_model, ["Electric Piano 1", "Flute"], [60, 60])
    latent = [float(x) for x in default_model.manifest.instruments[1]["latent"]]
    colour = fit_colour(flute, ep, RATE)
    plain, coloured = Preset("plain", latent=latent), Preset("coloured", latent=latent, colour=colour)
    synth = Synth(default_model, presets=[plain, coloured])
    synth.select_preset(0, 0)
    synth.select_preset(1, 1)
    first, second = synth.note_requests([(0, 60, 100), (1, 60, 100)])
    assert first.key != second.key and first.colour is None and second.colour is colour
    synth.prepare(48000, 512)
    out = []
    for channel in (0, 1):
        synth.reset()
        synth.generate(synth.note_requests([(channel, 60, 100)]))
        blocks = [synth.process([(0, ev.note_on(60, 100, channel))] if i == 0 else [], 512) for i in range(90)]
        out.append(np.concatenate(blocks)[:, 0])
    assert np.linalg.norm(out[0] - out[1]) > 0.3 * np.linalg.norm(out[0])
    # CC 78 takes the coloured channel toward the plain preset: halfway, half the gains in dB.
    synth.set_morph(64 / 127, 1)
    synth.channels[1].morph_target = 0
    synth.channels[1].timbre_moved()
    halfway = synth.note_requests([(1, 60, 100)])[0].colour
    assert np.allclose(halfway.gains_db, colour.gains_db * (1 - 64 / 127), atol=0.02)
    # The channel's sound saved as a preset keeps the colour, and a state round trip too.
    assert synth.current_preset(1).colour is not None
    again = Synth(default_model)
    again.load_state(synth.state())
    assert np.allclose(again.presets[1].colour.gains_db, colour.gains_db, atol=0.01)


@pytest.mark.parametrize("broken, says", [
    ({"band_hz": [100.0, 50.0], "segment_s": 0.064, "gains_db": [[0.0, 0.0]]}, "rising"),
    ({"band_hz": [100.0, 200.0], "segment_s": 0.064, "gains_db": [[0.0, 41.0]]}, "+-40 dB"),
    ({"band_hz": [100.0, 200.0], "segment_s": 0.064, "gains_db": [[0.0]]}, "rows of 2"),
    ({"band_hz": [100.0, 200.0], "segment_s": 0.0, "gains_db": [[0.0, 0.0]]}, "segment_s"),
    ({"band_hz": [100.0, 200.0], "segment_s": 0.064, "gains_db": [[0.0, float("nan")]]}, "+-40 dB"),
    ({"band_hz": [100.0, 200.0], "gains_db": [[0.0, 0.0]]}, "band_hz, segment_s and gains_db"),
])
def test_a_preset_file_with_a_broken_colour_is_refused(broken, says):
    with pytest.raises(ConfigError, match=says.replace("+", r"\+")):
        Preset.from_dict({"name": "x", "colour": broken})


def test_a_colour_round_trips_through_a_preset_file(tmp_path):
    colour = Colour((100.0, 1000.0), 0.064, np.array([[1.5, -3.0], [0.0, 2.25]], np.float32))
    Preset("mine", latent=[0.0] * 4, colour=colour).save(tmp_path / "p.json")
    again = Preset.load(tmp_path / "p.json").colour
    assert again.band_hz == colour.band_hz and again.digest == colour.digest
    assert Preset.load(tmp_path / "p.json").to_dict()["colour"] == colour.to_dict()
