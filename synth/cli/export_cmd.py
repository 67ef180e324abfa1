"""synth export: a training checkpoint -> one plugin file (needs the `train` extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import SynthError, missing_training_extra
from .common import batch_sizes, bounded, refuse_existing

EXAMPLE = "example:\n  synth export runs/default/checkpoint.pt -o my-instrument.onnx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", type=Path, help="checkpoint.pt written by `synth train`")
    parser.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    parser.add_argument("--force", action="store_true", help="replace a model already at --output")
    parser.add_argument("--name", help="instrument name in the manifest (default: the file name)")
    parser.add_argument("--no-ema", action="store_true", help="export the live weights, not their average")
    parser.add_argument("--tolerance", type=bounded(float, 1e-9, 1.0), default=1e-4,
                        help="max abs error vs torch (1e-4)")
    parser.add_argument("--pca-samples", type=bounded(int, 0, 100000), default=256,
                        help="latents sampled to find the knob directions by PCA; 0 = random directions (256)")
    parser.add_argument("--optimize", action="store_true",
                        help="also write NAME.optimized.onnx: onnxruntime's offline graph optimisation (CPU)")
    parser.add_argument("--fp16", action="store_true",
                        help="also write NAME.fp16.onnx: the network in half precision, for CUDA "
                             "(on a CPU as fast as float32, measured; half the weights' size)")
    parser.add_argument("--data", type=Path, default=None,
                        help="a palette checkpoint's training data set (its instruments are the mean latents "
                             "of their notes; default: the folder its config names)")
    parser.add_argument("--static-batch", type=batch_sizes, default=(), metavar="N[,N...]",
                        help="also write NAME.batchN.onnx with the batch size fixed to N, for each N")


def run(args: argparse.Namespace) -> int:
    if not args.checkpoint.exists():
        raise SynthError(f"checkpoint {args.checkpoint} does not exist", hint="train one with `synth train`")
    if args.output.suffix.lower() != ".onnx":
        raise SynthError(f"cannot write {args.output}: a plugin is an .onnx file", hint="name the output .onnx")
    variants = (["optimized"] if args.optimize else []) + (["fp16"] if args.fp16 else []) + \
        [f"batch{n}" for n in args.static_batch]
    for path in [args.output] + [args.output.with_name(f"{args.output.stem}.{v}.onnx") for v in variants]:
        refuse_existing(path, "model", args.force)
    try:
        from export.onnx_export import export_checkpoint
    except ImportError as exc:
        raise missing_training_extra("export", exc) from None
    try:
        report = export_checkpoint(args.checkpoint, args.output, name=args.name, use_ema=not args.no_ema,
                                   tolerance=args.tolerance, pca_samples=args.pca_samples,
                                   optimize=args.optimize, static_batches=args.static_batch, fp16=args.fp16,
                                   data=args.data)
    except (RuntimeError, KeyError, EOFError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SynthError(f"cannot export {args.checkpoint} ({first[:200]})",
                         hint="is it a checkpoint written by `synth train`?") from None
    print(f"parity with torch: max abs error {report.max_abs_error:.2e} over {report.parity_batch} notes; "
          f"{report.size_bytes / 1e6:.1f} MB", file=sys.stderr)
    if len(report.variants) > 1:
        rows = ["| variant | file | max abs error vs torch | MB | weights sha256 |", "|---|---|---|---|---|"]
        rows += [f"| {v.variant} | {v.path.name} | {v.max_abs_error:.2e} | {v.size_bytes / 1e6:.2f} | "
                 f"{v.weights_sha256[:16]} |" for v in report.variants]
        print("\n".join(rows), file=sys.stderr)
    if report.instruments:
        print(f"instruments: {', '.join(report.instruments)}; knobs by PCA over their latents, as the decoder "
              "hears them", file=sys.stderr)
    if report.explained_variance:
        shares = " ".join(f"{100 * v:.0f}%" for v in report.explained_variance)
        print(f"knob directions by PCA, share of timbre variance per knob: {shares}", file=sys.stderr)
    print(report.path)
    return 0
