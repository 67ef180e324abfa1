"""Faults while writing: a full disk (a file-size limit the kernel enforces) and a read-only file
system. Each write must fail with one sentence naming the path, and the file already there must
stay exactly as it was (every writer publishes a finished temporary file with one rename)."""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

LIMIT_BYTES = 64 << 10  # writes past 64 KiB fail with EFBIG, as on a full disk


def _disk_full() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with an error instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


def _synth(*args: str, full: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "synth", *args], capture_output=True, text=True, cwd=ROOT,
                          preexec_fn=_disk_full if full else None, timeout=600)


def _one_sentence(result: subprocess.CompletedProcess, path: Path) -> None:
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert "Traceback" not in result.stderr and str(path) in last, result.stderr


def _leftovers(folder: Path, keep: Path) -> list[Path]:
    return [p for p in folder.iterdir() if p != keep]


def test_render_on_a_full_disk_keeps_the_old_wav(tmp_path):
    out = tmp_path / "song.wav"
    out.write_bytes(b"the previous render")
    result = _synth("render", "examples/demo.mid", "-o", str(out), "-q")
    _one_sentence(result, out)
    assert out.read_bytes() == b"the previous render" and not _leftovers(tmp_path, out)


def test_export_on_a_full_disk_keeps_the_old_model(tmp_path, tiny_run):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"the previous model")
    result = _synth("export", str(tiny_run / "checkpoint.pt"), "-o", str(out), "--pca-samples", "8")
    _one_sentence(result, out)
    assert out.read_bytes() == b"the previous model" and not _leftovers(tmp_path, out)


def test_checkpoint_on_a_full_disk_keeps_the_last_good_one(tmp_path, tiny_run, tiny_dataset):
    """Training whose checkpoint cannot be written stops with one sentence; the checkpoint on disk
    is the last complete one, and a later --resume (disk freed) continues from it."""
    import shutil

    from tests.conftest import TINY_CONFIG_OVERRIDES

    run = tmp_path / "run"
    shutil.copytree(tiny_run, run)
    before = (run / "checkpoint.pt").read_bytes()
    args = ["train", "training/configs/default.toml", "--run-dir", str(run), "--resume", "-q"]
    for override in TINY_CONFIG_OVERRIDES + [f"data.folder={str(tiny_dataset)!r}", "train.steps=5"]:
        args += ["--set", override]
    result = _synth(*args)
    _one_sentence(result, run / "checkpoint.pt")
    assert (run / "checkpoint.pt").read_bytes() == before
    assert not [p for p in run.iterdir() if ".partial" in p.name]
    resumed = _synth(*args, full=False)
    assert resumed.returncode == 0 and "resuming at step 3" in resumed.stderr, resumed.stderr


def test_preset_save_to_a_read_only_file_system(tmp_path):
    target = Path("/proc/gansynth-preset.json")  # procfs refuses new files, even to root
    result = _synth("preset", "new", "-o", str(target), full=False)
    _one_sentence(result, target)


def test_training_killed_mid_run_resumes_from_its_last_checkpoint(tmp_path, tiny_dataset):
    """SIGKILL while training (no chance to clean up): the checkpoint on disk is complete, no
    partial file is ever loaded, and --resume continues from it."""
    import time

    from tests.conftest import TINY_CONFIG_OVERRIDES

    run = tmp_path / "run"
    args = [sys.executable, "-m", "synth", "train", "training/configs/default.toml", "--run-dir", str(run), "-q"]
    for override in TINY_CONFIG_OVERRIDES + [f"data.folder={str(tiny_dataset)!r}", "train.steps=100000"]:
        args += ["--set", override]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    checkpoint = run / "checkpoint.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # let it get into the middle of later steps and saves
    proc.kill()
    proc.wait()
    assert checkpoint.exists(), proc.stderr.read().decode()
    # steps=1: load, check, and stop at once (the step reached is already past it).
    resumed = subprocess.run(args[:-2] + ["--set", "train.steps=1", "--resume"], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    # A kill during a save leaves at most a .partial file beside the last complete checkpoint.
    assert resumed.returncode == 0 and "resuming at step" in resumed.stderr, resumed.stderr
    step = int(resumed.stderr.split("resuming at step")[1].split()[0])
    assert step >= 1
