"""Verification speed on uand programs (random pairwise ANDs, bench_uand.py's recipe).

1. Exhaustive, uand-8k (m = 1,024, 8,192 ANDs), every input with at most 2
   features on (524,801 inputs), superposed (hub) and exact lowerings;
   inputs/second next to a plain batched forward pass of the same torch module.
2. Bounds at s = 3 on uand-8k (1.8e8 inputs: too many to enumerate): gates
   proved by bounds alone, by branch and bound, refuted by a counterexample.
3. How tight: the same on uand-512 (m = 128, 512 ANDs, s = 3), where
   enumerating all 349,633 inputs gives every gate's true verdict.

    python bench/bench_verify.py [--torch-inputs 131072]
"""
from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import superpose  # noqa: E402
from superpose import compiler  # noqa: E402
from superpose.compiler.generators import random_pairs_circuit as uand  # noqa: E402
from markdown import table, write_section  # noqa: E402
from superpose.network import CompiledCircuit  # noqa: E402
from superpose.runtime.verify import verify  # noqa: E402

M = 1024
TORCH_BATCH = 4096
S, P = compiler.HubOptions, compiler.PaperUandOptions
HUB, HUB_TIGHT = S(target_error=0.01), S(target_error=0.0001)


def compile_uand(m: int, n_gates: int, sparsity: int, options: compiler.HubOptions | compiler.PaperUandOptions | None
                 ) -> CompiledCircuit:
    """Superposed with `options`, exact when None."""
    return compiler.compile_circuit(uand(m, n_gates, sparsity), options=options or compiler.ExactOptions())


def torch_inputs_per_second(compiled: CompiledCircuit, n_inputs: int) -> float:
    """Plain forward of circuit.to_torch() on the first n_inputs inputs of the
    enumeration (at most 2 on), dense (batch, m) float32, every gate."""
    module = superpose.to_torch(compiled).eval()
    combos = itertools.chain([()], ((i,) for i in range(M)), itertools.combinations(range(M), 2))
    rows = list(itertools.islice(combos, n_inputs))
    start = time.perf_counter()
    with torch.no_grad():
        for begin in range(0, len(rows), TORCH_BATCH):
            x = torch.zeros(min(TORCH_BATCH, len(rows) - begin), M)
            for r, on in enumerate(rows[begin:begin + TORCH_BATCH]):
                x[r, list(on)] = 1.0
            module.gate_values(x)
    return len(rows) / (time.perf_counter() - start)


def exhaustive_rows(torch_inputs: int) -> list[list[str]]:
    total = sum(math.comb(M, j) for j in range(3))
    rows = []
    for label, options in (("superposed (hub, target 1%)", HUB), ("exact", None)):
        compiled = compile_uand(M, 8192, 2, options)
        result = verify(compiled, method="exhaustive", progress=True)
        counts = result.counts
        rate = total / result.seconds
        plain = torch_inputs_per_second(compiled, torch_inputs)
        rows.append([label, f"{compiled.n_neurons:,}", f"{total:,}", f"{result.seconds:.1f}", f"{rate:,.0f}",
                     f"{plain:,.0f}", f"{plain / rate:.2f}", f"{counts['proved']:,}",
                     f"{counts['counterexample']:,}", "yes" if result.seconds <= 30 else "no"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def bounds_rows() -> list[list[str]]:
    rows = []
    for label, options in (("hub, target 1%", HUB), ("hub, target 0.01%", HUB_TIGHT),
                           ("paper-uand, width 2048, p 0.05", P(width=2048, p=0.05)),
                           ("exact", None)):
        compiled = compile_uand(M, 8192, 3, options)
        result = verify(compiled, method="bounds")
        method = [g.method for g in result.gates]
        counts = result.counts
        rows.append([label, f"{compiled.n_neurons:,}", f"{method.count('bounds') / compiled.n_gates:.1%}",
                     f"{method.count('branching'):,}", f"{counts['counterexample']:,}", f"{counts['unknown']:,}",
                     f"{result.seconds:.1f}"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def tightness_rows() -> list[list[str]]:
    rows = []
    for label, options in (("hub, target 1%", HUB), ("hub, target 20%", S(target_error=0.2)),
                           ("paper-uand, width 1024, p 0.1", P(width=1024, p=0.1)),
                           ("paper-uand, width 256, p 0.3", P(width=256, p=0.3))):
        compiled = compile_uand(128, 512, 3, options)
        truth = verify(compiled, method="exhaustive")
        bounded = verify(compiled, method="bounds")
        method = [g.method for g in bounded.gates]
        agree = all(b.status in ("unknown", t.status) for b, t in zip(bounded.gates, truth.gates))
        rows.append([label, f"{truth.counts['proved']}", f"{truth.counts['counterexample']}",
                     f"{method.count('bounds')}", f"{method.count('branching')}",
                     f"{bounded.counts['counterexample']}", f"{bounded.counts['unknown']}",
                     "yes" if agree else "NO", f"{bounded.seconds:.1f}", f"{truth.seconds:.1f}"])
        print(" | ".join(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--torch-inputs", type=int, default=131_072,
                        help="inputs for the plain torch forward pass (default 131,072)")
    args = parser.parse_args()
    exhaustive = exhaustive_rows(args.torch_inputs)
    bounds = bounds_rows()
    tightness = tightness_rows()
    body = (
        f"Command: `python bench/bench_verify.py --torch-inputs {args.torch_inputs}` "
        f"({torch.get_num_threads()} torch threads). uand: m = {M}, 8,192 random pairwise ANDs "
        "(bench/bench_uand.py's program).\n\n"
        "Exhaustive verification, every input with at most 2 features on; `verify` s is the whole call "
        "(support-pattern table, enumeration, confirming every counterexample on the circuit and the "
        f"interpreter). The torch column is `superpose.to_torch(circuit).gate_values` on the first "
        f"{args.torch_inputs:,} of those inputs as dense batches of {TORCH_BATCH:,}; overhead = torch "
        "inputs/s / verify inputs/s (below 1: enumeration is faster than the plain forward pass, since it "
        "multiplies sparse inputs and sparse weights).\n\n"
        + table(["lowering", "neurons", "inputs", "verify s", "verify inputs/s", "torch inputs/s", "overhead",
                 "proved", "counterexample", "<= 30 s"], exhaustive)
        + "\n\nWithout enumeration (`method=\"bounds\"`) at s = 3, where enumeration would take 1.8e8 inputs: "
        "bounds per support pattern, then branch and bound, whose candidate inputs are the counterexamples. "
        "No budget.\n\n"
        + table(["lowering", "neurons", "proved by bounds alone", "proved by branching", "counterexample",
                 "unknown", "seconds"], bounds)
        + "\n\nHow tight, against the truth from enumeration: uand-512 (m = 128, 512 ANDs, s = 3, 349,633 "
        "inputs). 'agree': no verdict of the bounds method contradicts enumeration.\n\n"
        + table(["lowering", "proved (truth)", "counterexample (truth)", "proved by bounds alone",
                 "proved by branching", "counterexamples found", "unknown", "agree", "bounds s",
                 "enumeration s"], tightness))
    write_section("verify", body)


if __name__ == "__main__":
    main()
