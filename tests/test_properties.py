"""Property-based tests (hypothesis): MIDI parsing, event scheduling, preset loading, and a fuzz run
of the MIDI-file loader. Whatever the input, the answer is a value or the project's own error
(one sentence), never another exception."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synth.engine.latent import Preset
from synth.engine.synth import Synth
from synth.errors import SynthError
from synth.midi import events as ev
from synth.midi.midifile import load_song
from tests.conftest import ROOT

FUZZ_INPUTS = 400


@given(st.binary(max_size=5) | st.lists(st.integers(0, 255), max_size=4))
def test_any_bytes_parse_to_a_valid_event_or_none(data):
    event = ev.from_bytes(data)
    if event is not None:
        assert 0 <= event.channel <= 15 and 0 <= event.a <= 127
        assert -8192 <= event.b <= 8191 if event.kind == ev.PITCH_BEND else 0 <= event.b <= 127
        assert not (event.kind == ev.NOTE_ON and event.b == 0)


midi_message = st.one_of(
    st.tuples(st.integers(0x80, 0xEF), st.integers(0, 127), st.integers(0, 127)).map(list),
    st.tuples(st.integers(0xC0, 0xDF), st.integers(0, 127)).map(list),
    st.lists(st.integers(0, 255), max_size=3),  # anything else: running status, system, partial
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(-10, 600), midi_message), max_size=40))
def test_any_event_schedule_renders_finite_bounded_audio(default_model, schedule):
    synth = Synth(default_model)
    synth.prepare(48000, 512)
    events = [(offset, e) for offset, raw in schedule if (e := ev.from_bytes(raw)) is not None]
    for _ in range(3):
        out = synth.process(events, 512)
        events = []
        assert out.shape == (512, 2) and np.isfinite(out).all() and np.abs(out).max() <= 1.0
    assert len(synth.voices) <= synth.settings["engine.polyphony"]


json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
preset_like = st.fixed_dictionaries({}, optional={
    "format": json_value, "name": json_value, "seed": json_value, "latent": json_value, "knobs": json_value,
    "envelope": json_value, "model_sha256": json_value, "program": json_value})


@settings(max_examples=300)
@given(preset_like | json_value)
def test_any_json_is_a_preset_or_one_clear_error(data):
    try:
        preset = Preset.from_dict(data)
    except SynthError as error:
        assert "\n" not in str(error)
        return
    assert all(0 <= k <= 1 for k in preset.knobs) and isinstance(preset.seed, int)


def _mutations(seed_bytes: bytes):
    """Valid MIDI bytes with a few track bytes overwritten, sometimes cut short: what broken files look like."""
    size = len(seed_bytes)
    edits = st.lists(st.tuples(st.integers(22, size - 1), st.integers(0, 255)), min_size=1, max_size=4)
    return st.tuples(edits, st.just(size) | st.integers(14, size)).map(
        lambda pair: bytes(_apply(bytearray(seed_bytes), pair[0]))[: pair[1]])


def _apply(data: bytearray, edits) -> bytearray:
    for where, value in edits:
        data[where] = value
    return data


@pytest.fixture(scope="module")
def fuzz_counter():
    count = {"inputs": 0, "refused": 0}
    yield count
    print(f"\nMIDI-file fuzz: {count['inputs']} inputs, {count['refused']} refused with one sentence")
    assert count["inputs"] >= FUZZ_INPUTS


@settings(max_examples=FUZZ_INPUTS, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_mutations((ROOT / "examples/demo.mid").read_bytes()) | st.binary(max_size=64))
def test_midi_file_loader_fuzz(tmp_path_factory, fuzz_counter, data):
    path = tmp_path_factory.getbasetemp() / "fuzz.mid"
    path.write_bytes(data)
    fuzz_counter["inputs"] += 1
    try:
        song = load_song(path)
    except SynthError as error:
        fuzz_counter["refused"] += 1
        assert "\n" not in str(error) and "Traceback" not in str(error)
        return
    assert all(0 <= t <= song.length_s + 1e-9 for t, _ in song.events)


def _mido_events(path) -> list | None:
    """What the MIDI library mido reads from ``path`` (the reference the reader is held to), or None."""
    import mido

    try:
        midi = mido.MidiFile(path)
        if any(isinstance(m, mido.UnknownMetaMessage) for track in midi.tracks for m in track):
            return None  # mido drops the delta time of a meta event of unknown type (its bug, 1.3)
        now, out = 0.0, []
        for message in midi:
            now += message.time
            if (event := ev.from_mido(message)) is not None:
                out.append((now, event))
        return out
    except Exception:  # noqa: BLE001 - any refusal by mido counts as "no reference"
        return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=_mutations((ROOT / "examples/demo.mid").read_bytes()))
def test_midi_reader_agrees_with_mido_on_damaged_files(tmp_path_factory, data):
    """Where both read a file, the same events at the same times (mido's type-2 and out-of-range
    header quirks aside: those files the reader refuses)."""
    from synth.midi.smf import SmfError, read_smf

    path = tmp_path_factory.getbasetemp() / "agree.mid"
    path.write_bytes(data)
    reference = _mido_events(path)
    try:
        ours, _ = read_smf(data)
    except SmfError:
        return
    if reference is None:
        return
    assert [e for _, e in ours] == [e for _, e in reference]
    assert all(abs(a - b) < 1e-6 for (a, _), (b, _) in zip(ours, reference))


ONNX_FUZZ_INPUTS = 300


@pytest.fixture(scope="module")
def onnx_seed(tmp_path_factory) -> bytes:
    from tests.test_contract import _graph_model

    return _graph_model(tmp_path_factory.mktemp("onnx-seed")).read_bytes()


@pytest.fixture(scope="module")
def onnx_fuzz_counter():
    count = {"inputs": 0, "refused": 0, "loaded": 0}
    yield count
    print(f"\nONNX-loader fuzz: {count['inputs']} inputs, {count['loaded']} loaded, "
          f"{count['refused']} refused with one sentence")
    assert count["inputs"] >= ONNX_FUZZ_INPUTS


def _onnx_mutations(draw_edits, seed: bytes) -> bytes:
    edits, cut = draw_edits
    return bytes(_apply(bytearray(seed), [(w % len(seed), v) for w, v in edits]))[: max(1, cut % (len(seed) + 1))]


@settings(max_examples=ONNX_FUZZ_INPUTS, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), max_size=4),
       cut=st.integers(0, 1 << 16), raw=st.binary(max_size=64), use_raw=st.booleans())
def test_onnx_loader_fuzz(tmp_path_factory, onnx_seed, onnx_fuzz_counter, edits, cut, raw, use_raw):
    """Mutated real ONNX files (bytes overwritten, cut short) and random bytes: every one loads as
    a valid plugin or is refused with one sentence; none crashes the process."""
    from synth.plugin.model import GeneratorModel

    data = raw if use_raw else _onnx_mutations((edits, cut if cut < len(onnx_seed) else len(onnx_seed)), onnx_seed)
    path = tmp_path_factory.getbasetemp() / "fuzz.onnx"
    path.write_bytes(data)
    onnx_fuzz_counter["inputs"] += 1
    try:
        model = GeneratorModel.load(path, device="cpu")
    except SynthError as error:
        onnx_fuzz_counter["refused"] += 1
        assert "\n" not in str(error) and "Traceback" not in str(error)
        return
    onnx_fuzz_counter["loaded"] += 1
    m = model.manifest
    audio = model.generate(np.ones((1, m.latent_dim), np.float32), np.array([m.pitch_min]))
    assert audio.shape == (1, m.num_samples) and np.isfinite(audio).all()


def test_alsa_port_names_survive_a_replug():
    """ALSA numbers a replugged keyboard's port anew; the name the host watches for must not change."""
    from synth.midi.alsa import stable_port_name

    before = stable_port_name("Keystation 49:Keystation 49 MIDI 1 24:0")
    after = stable_port_name("Keystation 49:Keystation 49 MIDI 1 28:0")
    assert before == after == "Keystation 49:Keystation 49 MIDI 1"
    assert stable_port_name("gansynth-kbd:midi_out_0") == "gansynth-kbd:midi_out_0"


@settings(max_examples=200, deadline=None)
@given(window=st.integers(1, 2000), values=st.lists(st.floats(0.1, 10.0), min_size=1, max_size=40),
       extra=st.integers(0, 1999))
def test_loop_gain_ramps_are_np_interp(window, values, extra):
    """The sustain loop's gain curve, built by broadcasting, is the straight-line interpolation
    between frame centres that np.interp computes (it replaced it for speed)."""
    from synth.notes.prepare import ramps_between_frames

    gains = np.asarray(values)
    length = len(gains) * window + extra % window if window > 1 else len(gains)
    centres = (np.arange(len(gains)) + 0.5) * window
    expected = np.interp(np.arange(length), centres, gains)
    assert np.allclose(ramps_between_frames(gains, window, length), expected, rtol=1e-6, atol=1e-6)
