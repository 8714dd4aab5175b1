"""Hosted clips on circuits-T: a numpy prototype of a superposed level design (issue 14).

    python bench/proto_hosted.py --circuits 2000

Every gate of level l owns `copies` (S) *hosts* in layer l, and a host is shared
by up to `hosts` gates of different circuits with the same form (one pool and one
threshold c per form; compiler/deep_codes.region_design: any two gates share at
most one host). A host is a clip, two ReLUs of one pre-activation

    host = ReLU(k (z - c) + 1/2) - ReLU(k (z - c) - 1/2),   z = sum of its gates' forms

    AND (a & b): x + y      OR (a | b): x + y      AND-NOT (a & !b): x - w y

with x, y an operand's read: the mean of its S hosts in layer l - 1 (level 1 reads
the inputs). Every form is 0 when its operands are, so a circuit with no input on
adds exactly 0 to every host: no on-indicators. A lit host adds 1/S to the read of
each of its other gates (a *stray* read); c sits between the clean values with room
for one stray read on the false side (two of them light a host when S = 2: the
mechanism that makes stray activity grow with depth), and w < 1 lets a true
AND-NOT host keep one stray negative read of a co-tenant. Neurons: 2 per host.

The weights are built as sparse matrices and run in numpy; they are not a
CompiledCircuit. Each level's error is measured on the report's stratified
distribution (compiler/sampling.sample_gate, uniform or neighbourhood fill)
against the interpreter, for a sample of its gates, the worst `--confirm`
re-measured on ten times as many fresh samples. Lit hosts: hosts above 1/2 per
input; stray: lit hosts with no true gate.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp

from superpose.compiler.co_activity import neighbourhoods_of
from superpose.compiler.deep_codes import region_design
from superpose.compiler.generators.circuits import circuits_circuit
from superpose.compiler.interpret import evaluate
from superpose.compiler.ir import Circuit, Op
from superpose.compiler.sampling import sample_gate

FORMS = ("and", "and_not", "or")         # pools, in the order of --hosts and --thresholds
CHUNK = 2000                             # inputs run through the network at once
CONFIRM_FACTOR = 10                      # the worst gates are re-measured on this many times the samples
HOST_LIT = 0.5                           # a host counts as lit above this


Level = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]  # (signal, circuit, form, a, b)


def gate_forms(circuit: Circuit) -> list[Level]:
    """Per level: (signal, circuit, form, a, b), each (n_gates,); a, b index the
    previous level's gates (level 1: inputs). Only circuits-T's gates are supported."""
    level_of = circuit.levels()
    position = np.zeros(circuit.n_signals, dtype=np.int64)
    position[:circuit.n_inputs] = np.arange(circuit.n_inputs)
    per_level: dict[int, list[tuple[int, int, int, int, int]]] = {}
    for i, node in enumerate(circuit.nodes):
        signal = circuit.n_inputs + i
        x, y = node.operands
        form = "or" if node.op is Op.OR else "and_not" if y.negated else "and"
        rows = per_level.setdefault(int(level_of[signal]), [])
        position[signal] = len(rows)
        rows.append((signal, int(node.name[1:].split("_")[0]), FORMS.index(form),
                     int(position[x.signal]), int(position[y.signal])))
    return [tuple(np.array(column) for column in zip(*per_level[level])) for level in sorted(per_level)]


def build(levels: list[Level], n_inputs: int, copies: int, hosts: tuple[int, ...], negated_weight: float,
          rng: np.random.Generator) -> list[dict]:
    """Per layer: weights (n_units_before, n_hosts) CSR, pool (n_hosts,), hosts_of (n_gates, copies),
    place (n_gates, n_hosts) 0/1 CSR, read (n_hosts, n_gates) CSR of 1/copies."""
    layers, read_before, n_before = [], None, n_inputs
    for _, regions, form, a, b in levels:
        n = regions.size
        hosts_of, pool, offset = np.zeros((n, copies), dtype=np.int64), [], 0
        for p in range(len(FORMS)):
            items = np.flatnonzero(form == p)
            if items.size:
                ids, n_large = region_design(regions[items], copies, hosts[p], rng)
                hosts_of[items], offset = ids + offset, offset + n_large
                pool += [p] * n_large
        gates = np.repeat(np.arange(n), copies)
        place = sp.csr_matrix((np.ones(n * copies), (gates, hosts_of.ravel())), shape=(n, offset))
        second = np.where(form == FORMS.index("and_not"), -negated_weight, 1.0)
        operands = sp.csr_matrix((np.concatenate([np.ones(n), second]), (np.concatenate([a, b]), np.tile(np.arange(n), 2))),
                                 shape=(n_before, n))
        weights = operands @ place if read_before is None else read_before @ operands @ place
        read = sp.csr_matrix((np.full(n * copies, 1.0 / copies), (hosts_of.ravel(), gates)), shape=(offset, n))
        layers.append({"weights": weights.tocsr().astype(np.float32), "pool": np.array(pool), "hosts_of": hosts_of,
                       "place": place, "read": read})
        read_before, n_before = read, n
    return layers


def forward(layers: list[dict], x: sp.csr_matrix, thresholds: np.ndarray, slope: float) -> list[np.ndarray]:
    """x: (batch, n_inputs) -> every layer's host values (batch, n_hosts); a clip is ReLU(u) - ReLU(u - 1)."""
    values, h = [], x
    for layer in layers:
        z = h @ layer["weights"]
        z = z.toarray() if sp.issparse(z) else np.asarray(z)
        h = np.clip(slope * (z - thresholds[layer["pool"]]) + 0.5, 0.0, 1.0).astype(np.float32)
        values.append(h)
    return values


def measure(circuit: Circuit, levels: list[Level], layers: list[dict], picks: list[tuple[int, int]], samples: int,
            fill: str, thresholds: np.ndarray, slope: float, rng: np.random.Generator
            ) -> tuple[list[tuple[float, float]], np.ndarray, np.ndarray, int]:
    """picks: [(level index, gate index)] -> per pick (false-positive rate, false-negative rate) on
    `samples` stratified inputs, per layer the lit and the stray hosts summed over all inputs
    ((n_layers,) each), and the number of inputs."""
    supports, near = circuit.supports(), neighbourhoods_of(circuit) if fill == "neighbourhood" else None
    drawn = []
    for level, gate in picks:
        signal = int(levels[level][0][gate])
        support = sorted(supports[signal])
        s = sample_gate(circuit, signal, support, samples, circuit.sparsity, rng,
                        neighbourhood=near.of(support) if near else None)
        drawn.append((s.inputs, s.wanted))
    x = sp.vstack([inputs for inputs, _ in drawn]).tocsr()
    wanted = np.concatenate([w for _, w in drawn])
    owner = np.repeat(np.arange(len(picks)), [w.size for _, w in drawn])
    got = np.zeros(wanted.size, dtype=bool)
    lit, stray = np.zeros(len(layers)), np.zeros(len(layers))
    for start in range(0, wanted.size, CHUNK):
        rows = slice(start, start + CHUNK)
        values = forward(layers, x[rows], thresholds, slope)
        truth = evaluate(circuit, x[rows].toarray())
        for level, layer in enumerate(layers):
            on = values[level] > HOST_LIT
            true_host = (sp.csr_matrix(truth[:, levels[level][0]].astype(np.float32)) @ layer["place"]).toarray() > 0
            lit[level] += on.sum()
            stray[level] += (on & ~true_host).sum()
            mine = np.flatnonzero(np.array([picks[o][0] for o in owner[rows]]) == level)
            gates = np.array([picks[o][1] for o in owner[rows][mine]], dtype=np.int64)
            got[start + mine] = values[level][mine[:, None], layer["hosts_of"][gates]].mean(axis=1) > 0.5
    rates = [((got[owner == i] & ~wanted[owner == i]).sum() / max(1, (~wanted[owner == i]).sum()),
              (~got[owner == i] & wanted[owner == i]).sum() / max(1, wanted[owner == i].sum()))
             for i in range(len(picks))]
    return rates, lit, stray, wanted.size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--circuits", type=int, default=2000, help="T (default 2000)")
    parser.add_argument("--levels", type=int, default=8, help="levels of each circuit (default 8)")
    parser.add_argument("--copies", type=int, default=2, help="S: hosts per gate (default 2)")
    parser.add_argument("--hosts", default="9,5,4", help="gates per host in the AND, AND-NOT, OR pools (default 9,5,4)")
    parser.add_argument("--thresholds", default="1.75,0.6,0.75", help="c of the AND, AND-NOT, OR pools")
    parser.add_argument("--negated-weight", type=float, default=0.6, help="w of an AND-NOT's negated read (default 0.6)")
    parser.add_argument("--slope", type=float, default=16.0, help="k of the clips (default 16)")
    parser.add_argument("--gates", type=int, default=30, help="gates measured per level (default 30)")
    parser.add_argument("--samples", type=int, default=200, help="inputs per measured gate (default 200)")
    parser.add_argument("--confirm", type=int, default=20, help="worst gates re-measured on 10x samples (default 20)")
    parser.add_argument("--fill", choices=("uniform", "neighbourhood"), default="uniform")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    start = time.time()
    circuit = circuits_circuit(args.circuits, levels=args.levels, seed=args.seed)
    levels = gate_forms(circuit)
    rng = np.random.default_rng(args.seed)
    layers = build(levels, circuit.n_inputs, args.copies, tuple(int(v) for v in args.hosts.split(",")),
                   args.negated_weight, rng)
    thresholds = np.array([float(v) for v in args.thresholds.split(",")], dtype=np.float32)
    picks = [(level, int(g)) for level, (signals, *_) in enumerate(levels)
             for g in rng.choice(signals.size, size=min(args.gates, signals.size), replace=False)]
    rates, lit, stray, n_rows = measure(circuit, levels, layers, picks, args.samples, args.fill, thresholds,
                                        args.slope, rng)
    error = np.array([(fp + fn) / 2 for fp, fn in rates])
    worst = np.argsort(-error, kind="stable")[:args.confirm]
    confirmed, *_ = measure(circuit, levels, layers, [picks[i] for i in worst], args.samples * CONFIRM_FACTOR,
                            args.fill, thresholds, args.slope, rng)
    for i, (fp, fn) in zip(worst, confirmed):
        rates[i], error[i] = (fp, fn), (fp + fn) / 2
    gates, hosts = sum(lv[0].size for lv in levels), sum(layer["pool"].size for layer in layers)
    print(f"circuits-T, T = {args.circuits}, {args.levels} levels: {gates:,} gates on {hosts:,} hosts = {2 * hosts:,} "
          f"neurons, {gates / (2 * hosts):.2f} gates per neuron (exact: 1.00). S = {args.copies}, gates per host "
          f"{args.hosts}, c {args.thresholds}, w {args.negated_weight}, k {args.slope}, {args.fill} fill; "
          f"{args.gates} gates per level x {args.samples} samples, {args.confirm} worst confirmed; "
          f"{time.time() - start:.0f} s")
    print("| level | hosts | gates/neuron | mean error | p99 error | max error | false pos. | false neg. "
          "| lit hosts / input | stray hosts / input |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    level_of = np.array([level for level, _ in picks])
    for level, layer in enumerate(layers):
        e, mine = error[level_of == level] * 100, level_of == level
        fp, fn = (np.mean([rates[i][j] for i in np.flatnonzero(mine)]) * 100 for j in (0, 1))
        print(f"| {level + 1} | {layer['pool'].size:,} | {levels[level][0].size / (2 * layer['pool'].size):.2f} "
              f"| {e.mean():.2f}% | {np.percentile(e, 99):.2f}% | {e.max():.2f}% | {fp:.2f}% | {fn:.2f}% "
              f"| {lit[level] / n_rows:.1f} | {stray[level] / n_rows:.2f} |")


if __name__ == "__main__":
    main()
