"""Train an SAE with SAELens on one layer of a compiled circuit and score it
against the layer's true features (needs `pip install -e '.[sae]'`).

    python examples/sae_lens_example.py programs/large.sbp --layer 1 --architecture standard
    python examples/sae_lens_example.py my.safetensors --samples 200000 --json scores.json

The activations come from superpose's dataset iterator (gate-enriched inputs by
default), the SAE is trained by SAELens' SAETrainer, and it is scored with
SAELens' evals (MCC, uniqueness, classification F1) plus mean max cosine
similarity (MMCS) against the layer's dictionary, next to the same SAE on
SAELens' own linear synthetic data of the same size and firing rates.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import superpose
from superpose.runtime.datasets import MODES, Distribution
from superpose.runtime.dictionary import KINDS
from superpose.runtime.sae_lens_adapter import ARCHITECTURES, run_experiment


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("circuit", help="a program (.sbp) to compile, or a compiled .safetensors artifact")
    parser.add_argument("--layer", type=int, default=1, help="activation h_l to train on (default 1)")
    parser.add_argument("--architecture", choices=ARCHITECTURES, default="standard")
    parser.add_argument("--kinds", default="gate", help=f"true features to score against, of {', '.join(KINDS)}")
    parser.add_argument("--mode", choices=MODES, default="enriched", help="input distribution (default enriched)")
    parser.add_argument("--samples", type=int, default=1 << 20, help="training rows (default 2^20)")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--d-sae", type=int, help="SAE latents (default: the number of true features)")
    parser.add_argument("--l1", type=float, default=1.0, help="standard SAE: L1 coefficient (default 1)")
    parser.add_argument("--k", type=int, help="TopK SAE: latents on per row (default: the mean number of true "
                                               "features on, at least 1)")
    parser.add_argument("--no-control", action="store_true", help="skip SAELens' linear control")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", help="write the scores here")
    args = parser.parse_args()

    path = Path(args.circuit)
    circuit = superpose.load(path) if path.suffix == ".safetensors" else superpose.compile_file(path, seed=args.seed)
    results = run_experiment(circuit, args.layer, args.architecture, tuple(args.kinds.split(",")),
                             Distribution(args.mode), args.d_sae, args.samples, args.batch_size,
                             l1_coefficient=args.l1, k=args.k, control=not args.no_control, seed=args.seed)
    for data, scores in results.items():
        print(f"{data:8s} " + "  ".join(f"{key} {value:.4g}" for key, value in scores.items()))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
