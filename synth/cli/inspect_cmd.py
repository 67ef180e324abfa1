"""synth inspect: print a model's manifest and a validation verdict."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

EXAMPLE = "example:\n  synth inspect synth/default_model/default.onnx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, help="plugin file (.onnx)")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args: argparse.Namespace) -> int:
    from ..plugin.model import GeneratorModel

    model = GeneratorModel.load(args.model, device="cpu")
    m = model.manifest
    probe = model.probe()
    if args.json:
        data = {k: v for k, v in m.to_metadata().items()}
        data.update({"sha256": model.sha256, "probe": probe})
        print(json.dumps(data, indent=2))
    else:
        rows = [("file", str(model.path)), ("sha256", model.sha256), ("name", m.name),
                ("architecture", m.architecture), ("contract version", m.contract_version),
                ("sample rate", f"{m.sample_rate} Hz"), ("note length", f"{m.num_samples} samples "
                                                                        f"({m.duration_s:.2f} s)"),
                ("latent", f"{m.latent_dim} dims, {m.latent_prior} prior"),
                ("pitch", f"{m.pitch_min}..{m.pitch_max}" if m.pitch_conditioned else f"not conditioned "
                                                                                     f"({m.unpitched_mode})"),
                ("velocity input", "yes" if m.velocity_input else "no"),
                ("knob directions", f"{len(m.latent_directions)} (spreads "
                                    f"{', '.join(f'{s:.2f}' for s in m.direction_spreads)})"),
                ("training data", m.training_data or "-"), ("model version", m.model_version or "-"),
                ("exported at", m.exported_at or "-"), ("config hash", m.config_hash or "-")]
        rows += [(k, v) for k, v in m.extra.items()]
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            print(f"{key:<{width}}  {value}")
    if not probe["finite"] or probe["peak"] < 1e-4:
        print(f"verdict: INVALID - a probe note at pitch {probe['pitch']} is "
              f"{'not finite' if not probe['finite'] else 'silent'}")
        return 2
    print(f"verdict: valid plugin (contract v{m.contract_version}); probe note {probe['pitch']}: "
          f"peak {probe['peak']:.3f}, rms {probe['rms']:.4f}")
    return 0
