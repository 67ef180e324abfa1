"""Generation speed of a plugin: per-call latency and real-time factor by batch size (1, 8, 32, 61).

The same measurement as `synth bench`, appended to docs/performance.md with the machine and
the command. Run: .venv/bin/python benchmarks/generation.py [--model M] [--threads N] [--device D]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from synth.bench import generation_table, measure_generation, record  # noqa: E402
from synth.plugin.model import GeneratorModel  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: every core)")
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--io-binding", action=argparse.BooleanOptionalAction, default=None,
                        help="run through IO binding (default: on CUDA only)")
    parser.add_argument("--no-cuda-graphs", action="store_true", help="CUDA without graph capture")
    parser.add_argument("--compare-io-binding", action="store_true",
                        help="only compare IO binding with plain runs at batch 1, call by call in turn (prints)")
    parser.add_argument("--no-append", action="store_true")
    args = parser.parse_args()
    if args.compare_io_binding:
        return compare_io_binding(args)
    model = GeneratorModel.load(args.model, device=args.device, threads=args.threads,
                                cuda_graphs=not args.no_cuda_graphs, io_binding=args.io_binding)
    table = generation_table(measure_generation(model, calls=args.calls))
    print(table)
    if not args.no_append:
        flags = "".join(f" --{k} {v}" for k, v in (("model", args.model), ("device", args.device),
                                                   ("threads", args.threads)) if v)
        flags += {None: "", True: " --io-binding", False: " --no-io-binding"}[args.io_binding]
        flags += " --no-cuda-graphs" * args.no_cuda_graphs
        record(ROOT / "docs" / "performance.md",
               f"Generation, {model.manifest.name} ({model.path.name}), {model.device_description}, "
               f"{args.threads or 'all'} thread(s), {model.run_path}",
               f".venv/bin/python benchmarks/generation.py{flags}", table)
    return 0


def compare_io_binding(args) -> int:
    """p50 of bound and plain batch-1 calls, interleaved so both see the same machine state."""
    import time

    import numpy as np

    model = GeneratorModel.load(args.model, device=args.device, threads=args.threads, io_binding=True)
    runner, z = model.runner, np.zeros((1, model.manifest.latent_dim), np.float32)
    times: dict[bool, list[float]] = {True: [], False: []}
    calls = max(args.calls, 100) + 100
    for i in range(calls):
        for bound in ((True, False) if i % 2 else (False, True)):
            model.runner = runner if bound else None
            started = time.perf_counter()
            model.generate(z, np.array([model.middle_pitch]))
            times[bound].append(time.perf_counter() - started)
    bound_ms, plain_ms = (1000 * float(np.median(times[k][100:])) for k in (True, False))
    print(f"{model.device_description}, {args.threads or 'all'} thread(s), {calls - 100} calls each: "
          f"IO binding {bound_ms:.2f} ms, plain {plain_ms:.2f} ms p50")
    return 0


if __name__ == "__main__":
    sys.exit(main())
