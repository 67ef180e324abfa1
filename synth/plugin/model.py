"""Load a plugin (one ONNX file), validate it, and generate notes with onnxruntime.

The host side of the contract in :mod:`synth.plugin.contract`. Never imports torch.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import re
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import ModelError
from .binding import GRAPH_BATCHES, BoundRunner
from .contract import (
    INPUT_LATENT,
    INPUT_PITCH,
    INPUT_VELOCITY,
    OUTPUT_AUDIO,
    Manifest,
    TensorSpec,
    check_graph,
    parse_manifest,
)
from .siblings import PendingSessions, open_cpu_session

DEFAULT_MODEL = Path(__file__).parents[1] / "default_model" / "default.onnx"
MAX_MODEL_BYTES = 2 * 1024**3
SILENT_PEAK = 1e-6  # a first note quieter than -120 dBFS: the model makes no sound
KEEP_ALIVE_IDLE_S = 0.1  # a GPU idle this long starts to clock down (the keep-alive runs a note)


def _import_onnxruntime():
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # errors only: its warnings are not the user's business
    return ort


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cuda_usable(ort) -> bool:
    """Whether onnxruntime's CUDA provider can load here (its CUDA and cuDNN libraries present).

    Asking onnxruntime directly makes it print a page of errors when they are
    missing; loading the provider library ourselves fails quietly instead.
    """
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False
    name = "onnxruntime_providers_cuda.dll" if os.name == "nt" else "libonnxruntime_providers_cuda.so"
    try:
        ctypes.CDLL(str(Path(ort.__file__).parent / "capi" / name))
    except OSError:
        return False
    return True


def _choose_providers(ort, device: str) -> list[str]:
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if cuda_usable(ort):
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        raise ModelError("--device cuda was asked for but onnxruntime's CUDA provider cannot load here",
                         hint="install onnxruntime-gpu with CUDA 12/13 and cuDNN, or use --device cpu")
    return ["CPUExecutionProvider"]


@dataclass
class GeneratorModel:
    """A validated plugin, ready to generate ``[batch, num_samples]`` float32 audio."""

    path: Path
    manifest: Manifest
    sha256: str
    session: object
    provider: str
    fallback_reason: str | None = None  # why CUDA was asked for (device auto) but the CPU plays
    static_batch: int | None = None  # a static-shape variant runs exactly this many notes per call
    runner: BoundRunner | None = None  # IO binding (None: plain session.run)
    binding_note: str | None = None  # why IO binding or CUDA graphs are off, when they were wanted
    plain_options: object = None  # run options for plain runs (graph capture off in a graph session)
    last_run: float = 0.0  # time.monotonic() of the last inference, for the keep-alive
    _run_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _keep_alive: object = field(default=None, repr=False, compare=False)
    _pending: PendingSessions | None = field(default=None, repr=False, compare=False)  # for cpu_sibling

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, *, device: str = "auto",
             threads: int = 0, cuda_graphs: bool = True, io_binding: bool | None = None,
             cpu_siblings: int = 0) -> GeneratorModel:
        """Open and validate a model file; raise :class:`ModelError` with one sentence on any fault.

        ``threads`` is onnxruntime's intra-op thread count (0: its default). ``cuda_graphs``: on
        CUDA, capture each batch size as a CUDA graph (falls back to plain CUDA where it cannot).
        ``io_binding``: run through pre-allocated buffers (None: on CUDA only; on this project's
        CPU it was 3 % slower than a plain run, measured interleaved). ``cpu_siblings``: start
        opening that many single-threaded sessions for :meth:`cpu_sibling` now, beside this one.
        """
        path = Path(path) if path is not None else DEFAULT_MODEL
        if not path.exists():
            raise ModelError(f"model file {path} does not exist", hint="check the path or run `synth inspect`")
        if not path.is_file():
            raise ModelError(f"model path {path} is not a file")
        size = path.stat().st_size
        if size > MAX_MODEL_BYTES:
            raise ModelError(f"model file {path} is {size / 1e9:.1f} GB, above the 2 GB limit")
        _refuse_outside_data(path)
        ort = _import_onnxruntime()
        options = _session_options(ort, threads)
        providers = _choose_providers(ort, device)
        pending = None
        if cpu_siblings > 0 and providers == ["CPUExecutionProvider"]:
            pending = PendingSessions(ort, path, [_session_options(ort, 1) for _ in range(cpu_siblings)])
        session, fallback, graphs_note = _open_session(ort, path, options, providers, device, cuda_graphs)
        source = str(path)
        try:
            metadata = dict(session.get_modelmeta().custom_metadata_map)
            inputs, outputs = [_spec(i) for i in session.get_inputs()], [_spec(o) for o in session.get_outputs()]
        except UnicodeDecodeError:
            raise ModelError(f"{path} holds names or metadata that are not UTF-8 text",
                             hint="the file is damaged; export it again") from None
        manifest = parse_manifest(metadata, source)
        check_graph(inputs, outputs, manifest, source)
        active = session.get_providers()[0]
        if device == "cuda" and active != "CUDAExecutionProvider":
            raise ModelError(f"--device cuda was asked for but onnxruntime runs {path.name} on {active}",
                             hint="check the CUDA and cuDNN libraries, or use --device cpu")
        batch_dim = next(spec.shape[0] for spec in inputs if spec.name == INPUT_LATENT)
        graphs = active == "CUDAExecutionProvider" and cuda_graphs and graphs_note is None
        model = cls(path=path, manifest=manifest, sha256=_file_sha256(path), session=session, provider=active,
                    fallback_reason=fallback, static_batch=batch_dim if isinstance(batch_dim, int) else None,
                    binding_note=graphs_note, plain_options=_plain_run_options(ort, graphs), _pending=pending)
        model._check_output_shape()
        on_cuda = active == "CUDAExecutionProvider"
        if on_cuda if io_binding is None else io_binding:
            model._bind(ort, "cuda" if on_cuda else "cpu", graphs)
        return model

    def cpu_sibling(self, threads: int = 1) -> GeneratorModel | None:
        """A second CPU session of this model, with ``threads`` intra-op threads and its own run
        lock, to generate beside this one (one call runs at a time per session). On 2 cores two
        single-threaded sessions made benchmarks/bench_3min.mid's 83 notes in 0.146 s, one
        two-threaded session in 0.229 s. One opened at load (``cpu_siblings``) is taken first.
        None on CUDA (one GPU session is fast enough), or when the file on disk is no longer the
        one loaded."""
        if self.provider != "CPUExecutionProvider":
            return None
        session = self._pending.take(self.sha256) if self._pending is not None and threads == 1 else None
        if session is None:  # none opened at load (or it failed): open one now
            ort = _import_onnxruntime()
            _, session = open_cpu_session(ort, self.path, _session_options(ort, threads), self.sha256)
            if session is None:
                return None
        return replace(self, session=session, runner=None, binding_note=None, plain_options=None, last_run=0.0,
                       _run_lock=threading.Lock(), _keep_alive=None, _pending=None)

    def _bind(self, ort, device: str, graphs: bool) -> None:
        """Switch to IO binding if it gives the plain run's audio for the first note; else say why not."""
        m = self.manifest
        z = np.random.default_rng(1).standard_normal((1, m.latent_dim)).astype(np.float32)
        pitch = np.array([self.middle_pitch])
        plain = self._run(z, pitch, None)
        try:
            runner = BoundRunner(ort, self.session, m, device, graphs)
            self.runner = runner
            for _ in range(3 if graphs else 1):  # a graph is captured on a later run than the first
                bound = self._run(z, pitch, None)
        except Exception as exc:  # noqa: BLE001  onnxruntime raises many types; plain runs still work
            self.runner = None
            self.binding_note = f"IO binding off ({_runtime_reason(exc)})"
            return
        if not np.allclose(bound, plain, atol=1e-4):
            self.runner = None
            self.binding_note = f"IO binding off (it differed from a plain run by {np.abs(bound - plain).max():.1e})"

    @property
    def device_description(self) -> str:
        """Which device plays, in words, with the reason when CUDA was wanted but the CPU plays."""
        name = {"CUDAExecutionProvider": "CUDA", "CPUExecutionProvider": "CPU"}.get(self.provider, self.provider)
        notes = [note for note in (self.fallback_reason, self.binding_note) if note]
        return f"{name} ({'; '.join(notes)})" if notes else name

    @property
    def middle_pitch(self) -> int:
        """The middle of the model's pitch range: the note its checks, warm-up and keep-alive run."""
        return (self.manifest.pitch_min + self.manifest.pitch_max) // 2

    @property
    def run_path(self) -> str:
        """How a call reaches onnxruntime, in words (for benchmarks and ``synth bench``)."""
        if self.runner is None:
            return "plain session.run"
        return "IO binding with CUDA graphs" if self.runner.cuda_graphs else "IO binding"

    def _check_output_shape(self) -> None:
        """Run one note: symbolic output dims can only be checked by running the graph, and a graph
        that makes NaN or silence is refused here, before anyone plays it."""
        m = self.manifest
        try:
            z = np.random.default_rng(0).standard_normal((1, m.latent_dim)).astype(np.float32)
            raw = self._run(z, np.array([self.middle_pitch]), None)
        except Exception as exc:  # a graph that loads but cannot run
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{self.path} fails on its first note ({first[:160]})") from None
        if raw.shape != (1, m.num_samples):
            raise ModelError(f"{self.path} returned audio of shape {list(raw.shape)} for one note, "
                             f"its manifest promises [1, {m.num_samples}]")
        finite = np.isfinite(raw)
        if finite.mean() < 0.5:
            raise ModelError(f"{self.path} generates NaN or infinite samples ({100 * (1 - finite.mean()):.0f}% of "
                             "its first note)", hint="the model is broken; re-export it from a healthy checkpoint")
        peak = float(np.abs(raw[finite]).max()) if finite.any() else 0.0
        if peak < SILENT_PEAK:
            raise ModelError(f"{self.path} generates silence (its first note peaks at {peak:.1e})",
                             hint="the model is broken or untrained; re-export it from a trained checkpoint")

    def generate(self, z: np.ndarray, pitch: np.ndarray | None = None,
                 velocity: np.ndarray | None = None) -> np.ndarray:
        """Run the generator once.

        z: ``[batch, latent_dim]`` float32; pitch: ``[batch]`` MIDI notes; velocity: ``[batch]`` 0..1.
        Returns ``[batch, num_samples]`` float32 at ``manifest.sample_rate``, with NaN/inf replaced by 0.
        """
        return np.nan_to_num(self._run(z, pitch, velocity), copy=False, nan=0.0, posinf=0.0, neginf=0.0)

    def probe(self) -> dict[str, float]:
        """Generate one middle note and report its level, to catch silent or broken models."""
        m = self.manifest
        mid = self.middle_pitch
        raw = self._run(np.zeros((1, m.latent_dim), np.float32), np.array([mid]), None)
        audio = np.nan_to_num(raw)
        return {"pitch": mid, "finite": bool(np.isfinite(raw).all()), "peak": float(np.abs(audio).max()),
                "rms": float(np.sqrt(np.mean(audio.astype(np.float64) ** 2)))}

    def _run(self, z: np.ndarray, pitch: np.ndarray | None, velocity: np.ndarray | None) -> np.ndarray:
        fixed = self.static_batch
        if fixed is not None and len(z) != fixed:
            return self._run_in_fixed_batches(z, pitch, velocity, fixed)
        feeds = {INPUT_LATENT: np.ascontiguousarray(z, dtype=np.float32)}
        batch = feeds[INPUT_LATENT].shape[0]
        if self.manifest.pitch_conditioned:
            if pitch is None:
                raise ValueError("this model needs a pitch per note")
            feeds[INPUT_PITCH] = np.asarray(pitch, dtype=np.int64).reshape(batch)
        if self.manifest.velocity_input:
            vel = np.full(batch, 0.8, np.float32) if velocity is None else velocity
            feeds[INPUT_VELOCITY] = np.asarray(vel, dtype=np.float32).reshape(batch)
        with self._run_lock:  # one run at a time: a crash was seen with two threads in run()
            self.last_run = time.monotonic()
            if self.runner is not None:
                return self.runner.run(feeds)
            return self.session.run([OUTPUT_AUDIO], feeds, self.plain_options)[0]

    def warm_up(self, batches: tuple[int, ...] = GRAPH_BATCHES[:3]) -> None:
        """Run each batch size twice, so the first notes played do not pay for first runs (on CUDA:
        memory, kernels, graph capture)."""
        m = self.manifest
        for batch in batches:
            for _ in range(2):
                self.generate(np.zeros((batch, m.latent_dim), np.float32),
                              np.full(batch, self.middle_pitch), None)

    def start_keep_alive(self, idle_s: float = KEEP_ALIVE_IDLE_S) -> None:
        """Run one note whenever the model has been idle ``idle_s`` seconds, so a GPU stays at its
        clocks between notes (the first note after a pause otherwise pays for clocking up). The
        live host starts it on CUDA only: on a CPU it would only burn a core."""
        if self._keep_alive is None:
            self._keep_alive = KeepAlive(self, idle_s)

    def stop_keep_alive(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.stop()
            self._keep_alive = None

    @property
    def keep_alive_runs(self) -> int:
        return self._keep_alive.runs if self._keep_alive is not None else 0


    def _run_in_fixed_batches(self, z, pitch, velocity, fixed: int) -> np.ndarray:
        """A static-shape model takes exactly ``fixed`` notes: split the call, pad the last part by
        repeating its last note, and drop the padding from the result."""
        count = len(z)
        padded = -(-count // fixed) * fixed
        take = np.minimum(np.arange(padded), count - 1)
        z = np.asarray(z)[take]
        pitch = None if pitch is None else np.asarray(pitch).reshape(count)[take]
        velocity = None if velocity is None else np.asarray(velocity).reshape(count)[take]
        parts = [self._run(z[i:i + fixed], None if pitch is None else pitch[i:i + fixed],
                           None if velocity is None else velocity[i:i + fixed]) for i in range(0, padded, fixed)]
        return np.concatenate(parts)[:count]


class KeepAlive:
    """A daemon thread that runs one note on ``model`` whenever it has been idle ``idle_s``."""

    def __init__(self, model: GeneratorModel, idle_s: float) -> None:
        self.model, self.idle_s, self.runs = model, idle_s, 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="gpu-keep-alive", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        m = self.model.manifest
        z = np.zeros((1, m.latent_dim), np.float32)
        pitch = np.array([self.model.middle_pitch])
        while not self._stopped.wait(self.idle_s / 2):
            if time.monotonic() - self.model.last_run >= self.idle_s:
                self.model.generate(z, pitch, None)
                self.runs += 1

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()


def _session_options(ort, threads: int):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    # Memory patterns replan each new batch size over its first two runs (18 and 15 ms instead
    # of 5.5 at batch 4, measured); batch sizes vary here, and the steady state is the same.
    options.enable_mem_pattern = False
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    # Never spin: onnxruntime's pool threads busy-wait between runs by default, and here every
    # run shares the CPUs with other work (the live host's audio; the renderer's mixing thread,
    # which rendered benchmarks/bench_3min.mid in 0.89 s instead of 1.00 s, 7 rounds each).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _plain_run_options(ort, graphs: bool):
    """Run options for ``session.run``: in a session that captures CUDA graphs, a plain run must
    not be captured (its buffers are temporary)."""
    if not graphs:
        return None
    options = ort.RunOptions()
    options.add_run_config_entry("gpu_graph_id", "-1")
    return options


# cuDNN's exhaustive algorithm search runs every convolution many ways on the first call of each
# shape (seconds, and again for every new batch size); the heuristic picks at once.
CUDA_OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC", "do_copy_in_default_stream": "1"}


def _open_session(ort, path: Path, options, providers: list[str], device: str, cuda_graphs: bool = False):
    """Create the session with onnxruntime's own silent fallback off (it prints a banner and
    retries on the CPU). Ours: with ``device="auto"`` a CUDA session that fails to start is
    retried on the CPU and the reason kept, so the host can say which device plays and why.
    On CUDA, CUDA graphs are asked for first; a graph that cannot be captured (a node left on the
    CPU, for one) is retried without them. Returns (session, CPU-fallback reason, graphs note)."""
    if "CUDAExecutionProvider" in providers and cuda_graphs:
        graph_options = [{**CUDA_OPTIONS, "enable_cuda_graph": "1"} if name == "CUDAExecutionProvider" else {}
                         for name in providers]
        try:
            return ort.InferenceSession(str(path), sess_options=options, providers=providers,
                                        provider_options=graph_options, enable_fallback=0), None, None
        except Exception as exc:  # noqa: BLE001  retried below without graphs, then on the CPU
            graphs_note = f"CUDA graphs off ({_runtime_reason(exc)})"
    else:
        graphs_note = None
    provider_options = [CUDA_OPTIONS if name == "CUDAExecutionProvider" else {} for name in providers]
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers,
                                    provider_options=provider_options, enable_fallback=0), None, graphs_note
    except Exception as exc:  # onnxruntime raises many types; all mean "not a usable ONNX file"
        reason = _runtime_reason(exc)
        if "CUDAExecutionProvider" in providers and device == "auto":
            try:
                session = ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"],
                                               enable_fallback=0)
            except Exception:  # noqa: BLE001  the file itself is broken: say that below
                pass
            else:
                return session, f"CUDA failed to start ({reason})", None
        if "CUDAExecutionProvider" in providers and device == "cuda":
            raise ModelError(f"--device cuda was asked for but {path.name} does not start on CUDA ({reason})",
                             hint="check the CUDA and cuDNN libraries, or use --device cpu") from None
        raise ModelError(f"{path} is not a readable ONNX model ({reason})",
                         hint="check that the file is complete and was written by `synth export`") from None


def _refuse_outside_data(path: Path) -> None:
    """Refuse a model whose external-data tensors point outside its folder (before onnxruntime
    opens them): a downloaded model must not make the host read other files."""
    import mmap

    from .onnx_scan import ScanError, external_data_locations

    problem = None
    try:
        with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            view = memoryview(mapped)
            try:
                locations = external_data_locations(view)
            except ScanError as exc:  # (kept as text: the traceback would pin views of the mapping)
                locations, problem = [], str(exc)
            finally:
                view.release()
    except ValueError:  # an empty file cannot be mapped: onnxruntime names the fault
        return
    except OSError as exc:
        raise ModelError(f"cannot read model file {path} ({exc.strerror})") from None
    if problem is not None:
        raise ModelError(f"{path} is not a readable ONNX model ({problem})",
                         hint="check that the file is complete and was written by `synth export`")
    folder = path.resolve().parent
    for location in locations:
        target = (folder / location).resolve()
        if Path(location).is_absolute() or not target.is_relative_to(folder):
            raise ModelError(f"{path} refers to data outside its folder ({location!r}); refused",
                             hint="a model's external-data files must sit in its own folder")


def _runtime_reason(exc: Exception) -> str:
    """onnxruntime's message without its source locations and C++ signatures, on one line."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = text.split(" failed:", 1)[-1]
    text = re.sub(r"/onnxruntime_src/\S+:\d+ [^()]*\([^()]*\)( const)? ", "", text)
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    return text[:200]


def _spec(node) -> TensorSpec:
    return TensorSpec(node.name, node.type, tuple(node.shape))
