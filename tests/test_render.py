"""Headless render through the CLI: the demo in tune, determinism, resampling, one-shots, bad input."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from synth.midi import events as ev
from synth.midi.midifile import load_song
from synth.pitch import pitch_error_cents

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo.mid"


def synth_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True, text=True, cwd=ROOT)


def note_spans(path: Path) -> list[tuple[int, float, float]]:
    """(pitch, start_s, end_s) of every note in a MIDI file."""
    started, spans = {}, []
    for time_s, event in load_song(path).events:
        if event.kind == "note_on":
            started[(event.channel, event.a)] = time_s
        elif event.kind == "note_off" and (event.channel, event.a) in started:
            spans.append((event.a, started.pop((event.channel, event.a)), time_s))
    return spans


@pytest.fixture(scope="module")
def demo_wav(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("render") / "demo.wav"
    result = synth_cli("render", str(DEMO), "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    # The program ends a render without the interpreter's teardown (synth.cli.QUICK_EXIT): what
    # it printed still arrives, to a pipe too.
    assert result.stdout.strip() == str(out)
    assert "rendered" in result.stderr and "notes generated" in result.stderr
    return out


def test_every_demo_note_sounds_at_its_pitch(demo_wav):
    audio, rate = sf.read(demo_wav)
    mono = audio.mean(axis=1)
    spans = note_spans(DEMO)
    assert len(spans) >= 60
    errors = []
    for pitch, start, end in spans:
        # From 0.2 s in (the previous note's release is over) to the key release (1 s at most).
        segment = mono[int((start + 0.2) * rate):int(min(end, start + 1.0) * rate)]
        cents = pitch_error_cents(segment, rate, pitch)
        errors.append((pitch, start, cents))
    wrong = [e for e in errors if e[2] is None or abs(e[2]) > 50]
    assert not wrong, f"notes out of tune (pitch, start s, cents): {wrong}"


def test_same_seed_same_bytes_other_seed_other_sound(demo_wav, tmp_path):
    again = tmp_path / "again.wav"
    other = tmp_path / "other.wav"
    assert synth_cli("render", str(DEMO), "-o", str(again), "-q").returncode == 0
    assert synth_cli("render", str(DEMO), "-o", str(other), "-q", "--seed", "5").returncode == 0
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    assert digest(again) == digest(demo_wav)
    assert digest(other) != digest(demo_wav)


@pytest.mark.parametrize("rate", [22050, 44100, 96000])
def test_resampling_to_other_output_rates_keeps_pitch_and_length(tmp_path, rate):
    out = tmp_path / f"r{rate}.wav"
    result = synth_cli("render", str(DEMO), "-o", str(out), "-q", "--samplerate", str(rate))
    assert result.returncode == 0, result.stderr
    audio, got_rate = sf.read(out)
    assert got_rate == rate
    song = load_song(DEMO)
    assert abs(len(audio) / rate - song.length_s) < 3.0
    for pitch, start, end in note_spans(DEMO)[::9]:
        segment = audio[int((start + 0.2) * rate):int(min(end, start + 1.0) * rate)].mean(axis=1)
        assert abs(pitch_error_cents(segment, rate, pitch)) < 50


def test_notes_generated_ahead_give_the_same_samples_with_no_extra_work(default_model, tmp_path):
    """The render's ahead workers generate from a plan of the song (program changes and knob
    moves replayed): the same samples as the engine generating each block's notes itself, and not
    one note more, with one worker or three (each its own session of the model)."""
    from synth.engine.synth import Synth
    from synth.host.render import render_song

    song = load_song(DEMO)
    knob_cc = Synth(default_model).settings["midi.knob_ccs"][0]
    moves = [(t + 0.01, ev.control(knob_cc, (17 * i) % 128)) for i, (t, e) in enumerate(song.events)
             if e.kind == ev.NOTE_ON][::5]
    moves += [(t, ev.MidiEvent(ev.PROGRAM, 0, i % 3)) for i, (t, _) in enumerate(moves[::3])]
    song.events = sorted(song.events + moves, key=lambda item: item[0])
    results = []
    for ahead, workers in ((False, None), (True, 1), (True, 3)):
        synth = Synth(default_model)
        rendered = render_song(synth, song, 48000, progress=False, ahead=ahead, workers=workers)
        results.append((rendered, synth.bank.generated))
    (plain, plain_generated), *aheads = results
    assert np.abs(plain).max() > 0.05
    for ahead, ahead_generated in aheads:
        assert np.abs(plain - ahead).max() < 5e-5  # batches of another size round differently (-90 dB; test_engine)
        assert ahead_generated == plain_generated


def test_a_sibling_session_plays_the_same_notes_and_only_for_the_file_it_was_loaded_from(tmp_path):
    from synth.plugin.model import DEFAULT_MODEL, GeneratorModel

    path = tmp_path / "model.onnx"
    path.write_bytes(DEFAULT_MODEL.read_bytes())
    model = GeneratorModel.load(path, device="cpu")
    sibling = model.cpu_sibling()
    assert sibling is not None and sibling.session is not model.session
    z = np.random.default_rng(3).standard_normal((2, model.manifest.latent_dim)).astype(np.float32)
    pitch, velocity = np.array([48, 67]), np.array([0.5, 0.9], np.float32)
    assert np.abs(sibling.generate(z, pitch, velocity) - model.generate(z, pitch, velocity)).max() < 1e-5
    path.write_bytes(path.read_bytes() + b"\0")  # another file under the same name: no sibling of it
    assert model.cpu_sibling() is None


def test_sessions_opened_at_load_play_the_same_notes_and_are_taken_before_new_ones(tmp_path):
    """A render opens its workers' sessions while the model loads (``cpu_siblings``): each is
    handed over once, and one that read another file than the model's is refused."""
    from synth.plugin.model import DEFAULT_MODEL, GeneratorModel

    path = tmp_path / "model.onnx"
    path.write_bytes(DEFAULT_MODEL.read_bytes())
    model = GeneratorModel.load(path, device="cpu", cpu_siblings=2)
    opened = [model._pending.take(model.sha256) for _ in range(3)]
    assert opened[0] is not None and opened[1] is not None and opened[2] is None  # two, each once
    assert len({id(model.session), id(opened[0]), id(opened[1])}) == 3
    model = GeneratorModel.load(path, device="cpu", cpu_siblings=1)
    sibling = model.cpu_sibling()
    assert sibling is not None and sibling._pending is None
    z = np.random.default_rng(4).standard_normal((2, model.manifest.latent_dim)).astype(np.float32)
    pitch, velocity = np.array([50, 71]), np.array([0.4, 0.8], np.float32)
    assert np.abs(sibling.generate(z, pitch, velocity) - model.generate(z, pitch, velocity)).max() < 1e-5
    model = GeneratorModel.load(path, device="cpu", cpu_siblings=1)
    assert model._pending.take("another file's sha256") is None


def test_a_song_read_on_another_thread_raises_its_error_on_the_callers(tmp_path):
    from synth.errors import SynthError
    from synth.host.render import SongReading

    assert SongReading(DEMO).result().notes > 0
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not a song")
    reading = SongReading(broken)
    with pytest.raises(SynthError, match="broken.mid"):
        reading.result()


def test_tempo_changes_and_all_channels_are_honoured(tmp_path):
    import mido

    mid = mido.MidiFile(ticks_per_beat=480)
    a, b = mido.MidiTrack(), mido.MidiTrack()
    mid.tracks += [a, b]
    a.append(mido.MetaMessage("set_tempo", tempo=500_000, time=0))  # 120 bpm: 1 beat = 0.5 s
    a.append(mido.Message("note_on", note=60, velocity=100, channel=0, time=0))
    a.append(mido.Message("note_off", note=60, channel=0, time=480))
    a.append(mido.MetaMessage("set_tempo", tempo=1_000_000, time=0))  # 60 bpm from beat 1
    b.append(mido.Message("note_on", note=67, velocity=100, channel=5, time=960))  # beat 2 = 0.5 + 1.0 s
    b.append(mido.Message("note_off", note=67, channel=5, time=480))
    path = tmp_path / "tempo.mid"
    mid.save(path)
    out = tmp_path / "tempo.wav"
    assert synth_cli("render", str(path), "-o", str(out), "-q").returncode == 0
    audio, rate = sf.read(out)
    mono = audio.mean(axis=1)
    level = np.array([np.sqrt(np.mean(mono[i:i + 480] ** 2)) for i in range(0, len(mono) - 480, 480)])
    second_onset = np.nonzero(level[int(1.2 * rate / 480):] > 0.01)[0][0] * 480 / rate + 1.2
    assert abs(second_onset - 1.5) < 0.03
    assert abs(pitch_error_cents(mono[int(1.7 * rate):int(1.95 * rate)], rate, 67)) < 50


def test_one_shots_write_a_sample_pack(tmp_path):
    folder = tmp_path / "pack"
    result = synth_cli("render", "--one-shots", str(folder), "--pitches", "48,60,72", "--velocities", "64,127",
                       "--duration", "0.5", "-q")
    assert result.returncode == 0, result.stderr
    files = sorted(folder.glob("*.wav"))
    assert len(files) == 6 and files[0].name == "048_C3_v064.wav"
    audio, rate = sf.read(folder / "072_C5_v127.wav")
    assert abs(pitch_error_cents(audio[rate // 10:rate // 2, 0], rate, 72)) < 50
    assert abs(audio[-1]).max() < 1e-4  # released to silence


@pytest.mark.parametrize("content, needle", [
    (None, "does not exist"),
    (b"RIFF0000WAVE", "not a readable MIDI file"),
    (DEMO.read_bytes()[:100], "MIDI"),
    (b"MThd\x00\x00\x00\x06\x00\x01\x00\x00\x01\xe0", "has no tracks"),
])
def test_bad_midi_one_sentence(tmp_path, content, needle):
    path = tmp_path / "in.mid"
    if content is not None:
        path.write_bytes(content)
    result = synth_cli("render", str(path), "-o", str(tmp_path / "x.wav"), "-q")
    assert result.returncode == 2, result.stderr
    assert needle in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.wav").exists()


def test_existing_output_survives_a_failed_render(tmp_path):
    out = tmp_path / "keep.wav"
    out.write_bytes(b"precious")
    result = synth_cli("render", str(tmp_path / "none.mid"), "-o", str(out), "-q")
    assert result.returncode == 2 and out.read_bytes() == b"precious"
    result = synth_cli("render", str(DEMO), "-o", str(tmp_path / "no" / "such" / "dir.wav"), "-q")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_bad_arguments_get_one_sentence_and_the_way_to_the_help(tmp_path):
    result = synth_cli("render", "--pitches", "200", "--one-shots", str(tmp_path))
    assert result.returncode == 2 and "0 to 127" in result.stderr and "synth render --help" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = synth_cli("render", str(DEMO))
    assert result.returncode == 2 and "-o OUT.wav" in result.stderr


def test_a_failing_ahead_thread_is_quiet_and_leaves_the_notes_to_the_engine(default_model, capfd):
    """A plan the model cannot run (here a latent of the wrong size) stops the second thread
    without a traceback; the mixer does not wait for it, and the engine generates what it needs."""
    from synth.engine.synth import Synth
    from synth.host.render import AheadGenerator
    from synth.notes.prepare import NoteKey, NoteRequest

    synth = Synth(default_model)
    synth.prepare(48000, 16384)
    key = NoteKey(60, 3, b"not a latent", 0)
    generator = AheadGenerator(synth, 48000)
    generator.start([(0, NoteRequest(key, np.zeros(3, np.float32), 0.5))])
    generator.ready(16384)
    generator.close()
    assert generator.error is not None and synth.bank.get(key) is None
    assert "Traceback" not in capfd.readouterr().err
    synth.process([(0, ev.note_on(60, 100))], 16384)  # the engine still plays it, generating it now
    assert len(synth.voices) == 1 and synth.bank.generated == 1


def test_a_render_that_cannot_start_leaves_no_ahead_workers_behind(default_model, tmp_path):
    """The workers start (and open their sessions) before the song is read: a song that cannot be
    read, or a WAV that cannot be written, must still stop them."""
    import threading

    from synth.engine.synth import Synth
    from synth.errors import SynthError
    from synth.host.render import render_file

    synth = Synth(default_model)
    broken = tmp_path / "broken.mid"
    broken.write_bytes(b"MThd not a song")
    for midi, out in ((broken, tmp_path / "a.wav"), (DEMO, tmp_path / "no such folder" / "b.wav")):
        with pytest.raises(SynthError):
            render_file(synth, midi, out, progress=False)
        assert not [t for t in threading.enumerate() if t.name.startswith("render-ahead")]


def test_16_bit_wavs_get_the_bytes_libsndfile_writes(tmp_path):
    """Songs render to 16-bit WAV through synth.audiofile's own writer, without libsndfile: the
    same bytes, header included, mono and stereo, whatever the blocks."""
    from synth.audiofile import BlockWriter, wav_writer

    audio = np.random.default_rng(5).uniform(-1, 1, (20000, 2)).astype(np.float32)
    audio[:3] = [[1.0, -1.0], [0.5 / 32767, -0.5 / 32767], [0.0, 0.0]]  # the ends of the range, halves
    for channels in (1, 2):
        part = np.ascontiguousarray(audio[:, :channels])
        ours, theirs = tmp_path / f"ours{channels}.wav", tmp_path / f"libsndfile{channels}.wav"
        with wav_writer(ours, 44100, channels) as writer:
            writer.write(part[:7000])
            writer.write(part[7000:])
        with sf.SoundFile(theirs, "w", 44100, channels, subtype="PCM_16") as handle:
            BlockWriter(handle).write(part)
        assert ours.read_bytes() == theirs.read_bytes()


def test_a_wav_past_4_gb_is_one_sentence_and_the_old_file_stays(tmp_path):
    from synth.audiofile import RIFF_LIMIT, wav_writer
    from synth.errors import SynthError

    out = tmp_path / "long.wav"
    out.write_bytes(b"an earlier render")
    with pytest.raises(SynthError, match="at most 4 GB"), wav_writer(out, 48000, 2) as writer:
        writer.data_bytes = RIFF_LIMIT - 1000  # as if 6 hours were written already
        writer.write(np.zeros((1000, 2), np.float32))
    assert out.read_bytes() == b"an earlier render" and list(tmp_path.iterdir()) == [out]
