"""The runtime with a palette model (contract v2, issue 13): program changes pick GM instruments
(the nearest one, named, when the model lacks it), every channel keeps its own, the GM drum
channel is skipped with one notice, and a version-1 model behaves as before."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest

from synth.engine.synth import Synth
from synth.midi import events as ev
from synth.plugin.model import GeneratorModel
from tests.conftest import ROOT

RATE = 48000
INSTRUMENTS = [("Acoustic Grand Piano", 0), ("Violin", 40), ("Trumpet", 56), ("Flute", 73)]


@pytest.fixture(scope="module")
def palette_path(tiny_model_path, tmp_path_factory):
    """The tiny exported model with four instruments written into its manifest (contract v2)."""
    proto = onnx.load(str(tiny_model_path))
    meta = {p.key: p.value for p in proto.metadata_props}
    dim = int(meta["latent_dim"])
    rng = np.random.default_rng(7)
    instruments = [{"name": name, "program": program, "latent": rng.standard_normal(dim).round(4).tolist()}
                   for name, program in INSTRUMENTS]
    meta["instruments"], meta["contract_version"] = json.dumps(instruments), "2"
    del proto.metadata_props[:]
    for key, value in meta.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    path = tmp_path_factory.mktemp("palette") / "palette.onnx"
    onnx.save(proto, str(path))
    return path


@pytest.fixture
def palette(palette_path) -> Synth:
    synth = Synth(GeneratorModel.load(palette_path, device="cpu"))
    synth.prepare(RATE, 512)
    return synth


def _program(synth: Synth, channel: int, program: int) -> None:
    synth.handle(ev.MidiEvent(ev.PROGRAM, channel, program, 0))


def test_the_instruments_are_the_presets_and_a_program_change_picks_its_own(palette):
    assert [p.name for p in palette.presets] == [name for name, _ in INSTRUMENTS]
    _program(palette, 1, 40)
    latent, _ = palette.channel_latent(1)
    assert palette.instrument_name(1) == "Violin (GM 41)"
    assert np.allclose(latent, palette.manifest.instruments[1]["latent"], atol=1e-6)
    assert not palette.notices  # the model has program 40: nothing to say


def test_a_program_the_model_lacks_plays_the_nearest_of_its_family_and_says_so_once(palette):
    _program(palette, 2, 42)  # Cello: the model's string is the Violin
    assert palette.presets[palette.channels[2].preset_index].name == "Violin"
    _program(palette, 3, 71)  # Clarinet (reed family): no reed here, so the closest number, Flute (73)
    assert palette.presets[palette.channels[3].preset_index].name == "Flute"
    _program(palette, 2, 42)  # a song repeats its program changes: told once
    notices = list(palette.notices)
    assert len(notices) == 2 and "program 43 (Cello)" in notices[0] and "Violin" in notices[0]


def test_every_channel_keeps_its_own_instrument(palette):
    _program(palette, 0, 56)
    _program(palette, 1, 73)
    requests = palette.note_requests([(0, 60, 100), (1, 60, 100)])
    assert requests[0].key.latent_digest != requests[1].key.latent_digest
    assert palette.instrument_name(0).startswith("Trumpet") and palette.instrument_name(1).startswith("Flute")


def test_the_drum_channel_is_skipped_with_one_notice(palette):
    out = palette.process([(0, ev.note_on(60, 100, channel=9)), (10, ev.note_on(62, 100, channel=9))], 512)
    assert palette.active_voices == 0 and not np.any(out)
    assert len(palette.notices) == 1 and "channel 10" in palette.notices[0]
    assert palette.upcoming_notes([(0, ev.note_on(60, 100, channel=9))]) == []
    played = Synth(palette.model, palette.settings.with_overrides(["midi.drum_channel=0"]))
    played.prepare(RATE, 512)
    played.process([(0, ev.note_on(60, 100, channel=9))], 512)
    assert played.active_voices == 1  # drum_channel = 0 plays it


def test_randomise_on_a_palette_makes_a_new_instrument_between_two_and_keeps_the_old_one(palette):
    from synth.engine.latent import BETWEEN_SCATTER

    _program(palette, 1, 40)
    latents = np.array([i["latent"] for i in palette.manifest.instruments])
    gaps = np.linalg.norm(latents[:, None] - latents[None], axis=2)[np.triu_indices(len(latents), 1)]
    for _ in range(5):
        palette.randomize(1)
        base = np.asarray(palette.presets[palette.channels[1].preset_index].latent)
        # Off the nearest line between two instruments by about the scatter, never out in the prior.
        pairs = [(latents[i], latents[j]) for i in range(len(latents)) for j in range(i + 1, len(latents))]
        off = min(np.linalg.norm(base - (a + np.clip(np.dot(base - a, b - a) / np.dot(b - a, b - a), 0, 1) * (b - a)))
                  for a, b in pairs)
        assert off < 3 * BETWEEN_SCATTER * np.median(gaps)
    assert palette.instrument_name(1).startswith("Random")
    assert len(palette.presets) == len(INSTRUMENTS) + 1  # one random slot for the channel, reused
    _program(palette, 1, 40)  # the violin is still where program 40 finds it
    assert palette.instrument_name(1) == "Violin (GM 41)" and not palette.notices


def test_a_model_without_instruments_keeps_its_program_changes(tiny_model_path):
    synth = Synth(GeneratorModel.load(tiny_model_path, device="cpu"))
    _program(synth, 0, 11)
    assert synth.channels[0].preset_index == 11 % len(synth.presets) and not synth.notices


def test_render_names_a_substituted_program_on_stderr(palette_path, tmp_path):
    import mido

    midi = tmp_path / "song.mid"
    track = mido.MidiTrack([mido.Message("program_change", program=42, channel=0),
                            mido.Message("note_on", note=60, velocity=100, channel=0),
                            mido.Message("note_on", note=36, velocity=100, channel=9, time=100),
                            mido.Message("note_off", note=60, channel=0, time=400)])
    mido.MidiFile(tracks=[track]).save(midi)
    done = subprocess.run([sys.executable, "-m", "synth", "render", str(midi), "-o", str(tmp_path / "out.wav"),
                           "--model", str(palette_path), "-q"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "program 43 (Cello) is not in this model; playing Violin" in done.stderr
    assert "channel 10 is General MIDI percussion" in done.stderr
    assert done.stderr.count("channel 10") == 1


def test_a_seed_gives_each_instrument_a_reproducible_variation(palette_path):
    from synth.engine.latent import VARIATION, instrument_presets

    manifest = GeneratorModel.load(palette_path, device="cpu").manifest
    trained, varied, again = (instrument_presets(manifest, seed) for seed in (0, 3, 3))
    for plain, moved, same in zip(trained, varied, again):
        distance = np.linalg.norm(np.subtract(moved.latent, plain.latent))
        assert moved.name == plain.name and moved.program == plain.program
        assert moved.latent == same.latent and 0.3 * VARIATION * np.sqrt(len(plain.latent)) < distance
    assert [p.latent for p in trained] == [i["latent"] for i in manifest.instruments]


def test_a_hot_swap_keeps_the_users_presets_and_takes_the_new_models_instruments(palette_path, tiny_model_path):
    from synth.engine.latent import Preset
    from synth.host.hotswap import presets_after_swap

    palette, tiny = (GeneratorModel.load(p, device="cpu") for p in (palette_path, tiny_model_path))
    width = tiny.manifest.latent_dim  # the palette here is the tiny model with instruments: the same width
    mine = [Preset("seeded", seed=3), Preset("mine", latent=[0.1] * width), Preset("wide", latent=[0.1] * (width + 1))]
    playing = mine + Synth(palette).presets  # the user's, then the palette's instruments
    after = presets_after_swap(playing, tiny)  # a model without instruments
    assert [p.name for p in after] == ["seeded", "mine"]  # 'wide' was made for another model
    back = presets_after_swap(after, palette)
    assert [p.name for p in back] == ["seeded", "mine"] + [name for name, _ in INSTRUMENTS]
    assert presets_after_swap(Synth(palette).presets, tiny) is None  # nothing carried: the tiny model's defaults
    # What LiveHost.swap_synth does: the old synth's channels carry over, its presets do not.
    old = Synth(palette, presets=playing)
    _program(old, 1, 40)
    new = Synth(tiny, presets=after)
    carried = old.state()
    carried.pop("presets")
    new.load_state(carried)
    for channel in range(16):
        new.channel_latent(channel)  # every channel plays on the new model


def test_a_hot_swap_keeps_the_players_seed(palette_path, tiny_model_path):
    """`synth play --seed 5 --watch M`: the swapped-in model's presets are varied as at start-up."""
    from synth.engine.latent import instrument_presets
    from synth.host.hotswap import presets_after_swap

    palette, tiny = (GeneratorModel.load(p, device="cpu") for p in (palette_path, tiny_model_path))
    seeded = presets_after_swap(Synth(palette).presets, palette, seed=5)
    assert [p.latent for p in seeded] == [p.latent for p in instrument_presets(palette.manifest, 5)]
    assert [p.latent for p in seeded] != [p.latent for p in instrument_presets(palette.manifest, 0)]
    plain = presets_after_swap(Synth(palette).presets, tiny, seed=5, count=4)
    assert [p.seed for p in plain] == [5, 6, 7, 8]  # build_synth's seeding of the default presets
