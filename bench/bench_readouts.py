"""Compile time and peak memory of the exact lowering against circuit size:
a chain of n gates, g[0] = x[0] ^ x[1], g[i] = g[i-1] ^ x[i mod 4], every gate
named (so read out) and one level deeper than the last: n layers, and a
readout with an entry in every layer.

Each size runs in a fresh process, so that its peak resident memory
(ru_maxrss) is its own; `imports` is the same process's resident memory
before the circuit is built (Python, numpy, scipy, the package). The ratios
compare each size with the smallest: time and memory grow linearly when the
time ratio stays near n / 1,000. `--baseline DIR` runs the same chain, side
by side, on another superpose checkout (DIR holds it as DIR/superpose), for
the sizes in --baseline-sizes.

    .venv/bin/python bench/bench_readouts.py            # n = 1,000, 10,000, 100,000
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown import table, write_section  # noqa: E402

import superpose  # noqa: E402
from superpose.compiler.ir import Circuit, Lit, Node, Op  # noqa: E402

COMMAND = ".venv/bin/python bench/bench_readouts.py"
SIZES = (1_000, 10_000, 100_000)
INPUTS = 4  # the chain reads x[i mod 4]: four inputs carried through every layer


def xor_chain(n: int) -> Circuit:
    """g[0] = x[0] ^ x[1], g[i] = g[i-1] ^ x[i mod 4]: n gates over n levels."""
    nodes = [Node(Op.XOR, (Lit(0), Lit(1)), name="g[0]")]
    for i in range(1, n):
        nodes.append(Node(Op.XOR, (Lit(INPUTS + i - 1), Lit(i % INPUTS)), name=f"g[{i}]"))
    return Circuit(f"xor_chain_{n}", [f"x[{i}]" for i in range(INPUTS)], nodes, [(f"g[{n - 1}]", Lit(INPUTS + n - 1))])


def _compile_exact(circuit: Circuit, compile_circuit):
    """compile_circuit(strategy="exact"); a --baseline checkout from before
    the strategy parameter spells it exact=True."""
    try:
        return compile_circuit(circuit, strategy="exact")
    except TypeError:
        return compile_circuit(circuit, exact=True)


def measure(n: int) -> dict:
    """In this process: build the chain, compile it exactly, check it on every input."""
    compile_circuit = superpose.compile_circuit  # loads the compiler (lazily exported) before anything is measured
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    circuit = xor_chain(n)
    start = time.perf_counter()
    compiled = _compile_exact(circuit, compile_circuit)
    seconds = time.perf_counter() - start
    compiled.validate()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    x = [[(row >> i) & 1 for i in range(INPUTS)] for row in range(2 ** INPUTS)]
    expected = [(row[0] + row[1] + sum(row[i % INPUTS] for i in range(1, n))) % 2 for row in x]
    right = bool(((compiled.run(x)[:, 0] > 0.5) == [bool(e) for e in expected]).all())
    return {"n": n, "seconds": seconds, "peak_mb": peak, "imports_mb": before, "layers": len(compiled.layers),
            "neurons": compiled.n_neurons, "right": right}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(SIZES))
    parser.add_argument("--baseline", help="a folder holding another checkout as superpose/, run side by side")
    parser.add_argument("--baseline-sizes", type=int, nargs="+", default=[1_000, 5_000])
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # run one size, print JSON (the child process)
    args = parser.parse_args()
    if args.one is not None:
        print(json.dumps(measure(args.one)))
        return
    baseline_sizes = args.baseline_sizes if args.baseline else []
    this, baseline = {}, []
    for n in sorted(set(args.sizes) | set(baseline_sizes)):
        this[n] = _child(n, None)
        if n in baseline_sizes:
            baseline.append(_child(n, args.baseline))
    results = [this[n] for n in args.sizes]
    base = results[0]
    rows = [[f"{r['n']:,}", f"{r['layers']:,}", f"{r['neurons']:,}", f"{r['seconds']:.2f}",
             f"{r['seconds'] / base['seconds']:.1f}x", f"{r['n'] / base['n']:.0f}x", f"{r['peak_mb']:,.0f}",
             f"{r['peak_mb'] - r['imports_mb']:,.0f}", f"{(r['peak_mb'] - r['imports_mb']) / max(base['peak_mb'] - base['imports_mb'], 1):.1f}x",
             "yes" if r["right"] else "NO"] for r in results]
    body = (f"Command: `{COMMAND}`. The exact lowering of an XOR chain of n gates "
            f"(g[i] = g[i-1] ^ x[i mod 4], n levels, every gate read out), each size in a fresh process: "
            f"`compile s` is compile_circuit(strategy=\"exact\") from the IR; peak MB is the process's "
            f"ru_maxrss, growth MB that minus its resident memory before the circuit was built. "
            f"Ratios are against the smallest size; `right`: the output is the chain's parity on all 16 inputs.\n\n"
            + table(["gates n", "layers", "neurons", "compile s", "time ratio", "size ratio", "peak MB",
                     "growth MB", "growth ratio", "right"], rows))
    if baseline:
        body += (f"\n\nBaseline, side by side: `{COMMAND} --baseline DIR` with DIR/superpose the checkout "
                 f"before issue 10 (commit 899cbe6), same chain, same measure:\n\n"
                 + table(["gates n", "compile s (this)", "compile s (baseline)", "baseline / this",
                          "growth MB (this)", "growth MB (baseline)"],
                         [[f"{b['n']:,}", f"{r['seconds']:.2f}", f"{b['seconds']:.2f}",
                           f"{b['seconds'] / r['seconds']:.1f}x", f"{r['peak_mb'] - r['imports_mb']:,.0f}",
                           f"{b['peak_mb'] - b['imports_mb']:,.0f}"]
                          for b in baseline for r in [this[b["n"]]]]))
    write_section("readouts: compile time and memory against size", body)
    print(body)


def _child(n: int, root: str | None) -> dict:
    """measure(n) in a fresh process, on the checkout under `root` (None: this one)."""
    env = dict(os.environ, PYTHONPATH=root) if root else None
    child = subprocess.run([sys.executable, __file__, "--one", str(n)], capture_output=True, text=True, check=True,
                           env=env)
    result = json.loads(child.stdout)
    print("baseline" if root else "this", result, flush=True)
    return result


if __name__ == "__main__":
    main()
