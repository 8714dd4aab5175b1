"""Strategy "light-hub", confirmed on its compiled weights under both fills.

The light hub layer (light_hub.py) is planned from a prediction: the leak of
the input code, measured, and misfires from fills inside a neuron, uniform.
Structured co-activity (co_activity.py: the neighbourhood fill, the report's
default) is what that prediction does not see, so the plan keeps every pair
apart from its neighbourhood (light_hub.pack_light) and then, as the hub
lowering does (lower_superposed.lower_hub), every gate is measured on the
compiled weights under the uniform and the neighbourhood fill
(hub_confirm.confirm, the worst of the two) and the pairs of the gates that
miss the target are repaired:
  1. taken off their neurons and packed on neurons of their own with
     REPACK_TIGHTENING times fewer features (less leak, fewer misfires), up to
     MAX_REPACKS times;
  2. then moved to exact neurons (one per pair).
Every neuron that lost a pair reads its code anew (zero-forced weights change
with its features), so the gates it still serves are measured again too.

hub_confirm measures ReLU layers with no positive bias, on sparse
activations; the linear code layer is not one, so the confirmation measures
the same function with the code multiplied into the gate layer (`folded`),
gates a chunk at a time on only the neurons they read (`_confirm_chunked`).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from superpose.compiler.co_activity import neighbourhoods_of
from superpose.compiler.hub_confirm import confirm, confirmable
from superpose.compiler.hub_packing import HubNeuron, without_pairs
from superpose.compiler.ir import Circuit
from superpose.compiler.light_hub import LightPlan, choose_light_plan, light_layer, pack_light, predict_light
from superpose.compiler.lower_superposed import (MAX_REPACKS, REPACK_TIGHTENING, _assemble, _expand,
                                                 _input_interface, _PairLayer, _TargetedOptions)
from superpose.compiler.multilinear import Monomial
from superpose.network import CompiledCircuit, Layer, Readout, ReadoutBlock

CONFIRM_CHUNK = 32  # gates confirmed at once, on only the neurons they read: (samples, neurons read) activations


@dataclass(frozen=True)
class LightHubOptions(_TargetedOptions):
    """Options of strategy "light-hub": pairs on neurons that read few
    features with weight 1, as many per neuron as the target error allows
    with the leak of the input code measured (light_hub.py), confirmed on the
    compiled weights (module docstring)."""
    confirm: bool = True             # confirm every gate on the compiled weights and repair; False: the
                                     # prediction alone (the baseline that shows what confirmation buys)


def folded(compiled: CompiledCircuit) -> CompiledCircuit:
    """The same function with a leading linear code layer (kind "embed")
    multiplied into the layer after it, and the readouts of the code folded
    onto the inputs: ReLU layers only, as hub_confirm measures. `compiled`
    without a code layer is returned as it is."""
    if not compiled.layers or compiled.layers[0].relu:
        return compiled
    code = compiled.layers[0].weight.tocsr()
    first = compiled.layers[1]
    layers = [Layer(sp.csr_matrix(first.weight @ code, dtype=np.float32), first.bias, first.relu, first.kind)]
    layers += compiled.layers[2:]
    widths = compiled.widths
    return replace(compiled, layers=layers, gate_readout=_folded_readout(compiled.gate_readout, code, widths),
                   output_readout=_folded_readout(compiled.output_readout, code, widths))


def _folded_readout(readout: Readout, code: sp.csr_matrix, widths: list[int]) -> Readout:
    """`readout` over [inputs, code, layers...] as a readout over [inputs, layers...]."""
    blocks = {l - 1: block for l, block in readout.blocks.items() if l >= 2}
    on_inputs = readout.layer_matrix(0, widths[0]) + readout.layer_matrix(1, widths[1]) @ code
    on_inputs = sp.csr_matrix(on_inputs, dtype=np.float32)
    rows = np.flatnonzero(np.diff(on_inputs.indptr)).astype(np.int64)
    if rows.size:
        blocks[0] = ReadoutBlock(rows, on_inputs[rows])
    return Readout(dict(sorted(blocks.items())), readout.bias)


def _only_neurons_of(circuit: CompiledCircuit, gates: np.ndarray) -> CompiledCircuit:
    """A one-layer `circuit` (ReLU, no code) cut to the neurons the listed
    gates read, with a gate readout of every gate (the others read nothing):
    each listed gate computes exactly what it does in `circuit`."""
    readout = circuit.gate_readout
    top = len(circuit.layers)
    chosen = readout.select(gates)
    neurons = np.unique(chosen.blocks[top].weight.indices) if top in chosen.blocks else np.zeros(0, np.int64)
    layer = circuit.layers[0]
    position = np.zeros(layer.width, dtype=np.int64)
    position[neurons] = np.arange(neurons.size)
    blocks = {}
    for l, block in readout.blocks.items():
        keep = np.isin(block.rows, gates)
        weight = block.weight[keep]
        if l == top:
            weight = sp.csr_matrix((weight.data, position[weight.indices], weight.indptr), shape=(keep.sum(),
                                                                                                   neurons.size))
        if keep.any():
            blocks[l] = ReadoutBlock(block.rows[keep], weight)
    cut = Layer(layer.weight[neurons], layer.bias[neurons], layer.relu, layer.kind)
    return replace(circuit, layers=[cut], gate_readout=Readout(blocks, readout.bias))


def _confirm_chunked(compiled: CompiledCircuit, gates: np.ndarray, target: float, rng: np.random.Generator
                     ) -> tuple[np.ndarray, np.ndarray]:
    """hub_confirm.confirm of the listed gates, CONFIRM_CHUNK at a time in the
    order of the neurons they read (gates of one neuron together), each chunk
    on the neurons it reads only (a folded code layer reaches every neuron
    from every input: the whole layer per sample would cost ~width times
    more). Returns (k,) errors and (k,) bool failing, as confirm."""
    circuit = folded(compiled)
    top = circuit.gate_readout.layer_matrix(len(circuit.layers), circuit.layers[-1].width)
    reads = np.diff(top.indptr) > 0
    first = np.full(top.shape[0], -1, dtype=np.int64)  # the first neuron each gate reads; -1: none (linear)
    first[reads] = top.indices[top.indptr[:-1][reads]]
    order = np.argsort(first[gates], kind="stable")
    errors, failing = np.zeros(gates.size), np.zeros(gates.size, dtype=bool)
    for start in range(0, gates.size, CONFIRM_CHUNK):
        at = order[start:start + CONFIRM_CHUNK]
        errors[at], failing[at] = confirm(_only_neurons_of(circuit, gates[at]), gates[at], target, rng)
    return errors, failing


def _repair(plan: LightPlan, bad: set[Monomial], exact: set[Monomial], attempt: int, n_features: int, s: int,
            embedding: np.ndarray | None, near: dict[Monomial, set[int]]) -> tuple[LightPlan, set[int]]:
    """The plan with `bad` off their neurons and packed on neurons of their
    own with REPACK_TIGHTENING^(attempt + 1) times fewer features (at least
    2), or, past MAX_REPACKS attempts, added to `exact` (in place). Returns the
    new plan and the indices, in it, of the neurons that changed (the ones
    that lost a pair, and the new ones)."""
    kept = without_pairs(plan.neurons, bad)
    before = {tuple(n.pairs) for n in plan.neurons}
    new: list[HubNeuron] = []
    if attempt >= MAX_REPACKS:
        exact |= bad
    else:
        new = pack_light(sorted(bad), max(2, plan.features_per_neuron // REPACK_TIGHTENING ** (attempt + 1)), near)
    neurons = kept + new
    changed = {j for j, n in enumerate(neurons) if tuple(n.pairs) not in before or j >= len(kept)}
    return predict_light(neurons, plan.features_per_neuron, n_features, s, embedding, near), changed


def lower_light_hub(circuit: Circuit, options: LightHubOptions, rng: np.random.Generator) -> CompiledCircuit:
    """Strategy "light-hub": `circuit` (which must declare sparsity) in one
    layer of light hub neurons, planned to the error confirmation can pass
    (hub_confirm.confirmable) and, with a free width and options.confirm,
    confirmed and repaired (module docstring). Pairs some gate reads with a
    negative sign (OR, AND-NOT), whose overcount a light hub does not bound,
    get dedicated neurons like the higher products."""
    expansion = _expand(circuit, "light-hub")
    s, m = expansion.sparsity, circuit.n_inputs
    embed, embed_figures = _input_interface(m, options, rng)  # first: the plan reads the code's leak
    subtracted = {t for poly in expansion.polys for t, c in poly.items() if len(t) == 2 and c < 0}
    shared = [p for p in expansion.pairs if p not in subtracted]
    higher = set(expansion.higher) | (set(expansion.pairs) - set(shared))
    near_of = neighbourhoods_of(circuit)
    near = {(a, b): set(near_of.of([a, b]).tolist()) for a, b in shared}
    confirming = options.confirm and options.width is None  # a fixed width has no room to repair
    spare = None if options.width is None else options.width - len(higher)
    aim = confirmable(options.target_error) if confirming else options.target_error
    plan = choose_light_plan(shared, aim, m, s, embed, spare, near)
    figures = {"features_per_neuron": plan.features_per_neuron,
               "predicted_max_error": float(plan.errors.max(initial=0.0)),
               "leak_std_per_fill": float(np.sqrt((plan.leak_std ** 2).mean())) if plan.neurons else 0.0,
               "leak_predicted": True}
    exact: set[Monomial] = set()

    def build() -> CompiledCircuit:
        rows, biases, estimate = light_layer(plan)
        products = _PairLayer(rows, biases, estimate, sorted(higher | exact), options.target_error, dict(figures),
                              "hub", [list(neuron.hubs) for neuron in plan.neurons], zero_forced=True)
        return _assemble(circuit, "light-hub", expansion, products, embed, embed_figures)

    compiled = build()
    if not confirming:
        compiled.meta.figures["confirmed"] = False
        return compiled
    n_gates = len(circuit.gate_signals)
    gate_pairs = [{t for t in poly if len(t) == 2} & set(shared) for poly in expansion.polys[:n_gates]]
    to_measure = np.arange(n_gates, dtype=np.int64)  # every gate: the prediction does not see the neighbourhood
    measured = np.zeros(n_gates)
    repaired: set[Monomial] = set()
    for attempt in range(MAX_REPACKS + 2):  # the last pass measures what the move to exact neurons left
        errors, failing = _confirm_chunked(compiled, to_measure, options.target_error, rng)
        measured[to_measure] = errors
        bad = {t for g in to_measure[failing] for t in gate_pairs[g]} - exact
        if not bad or attempt > MAX_REPACKS:
            break
        repaired |= bad
        plan, changed = _repair(plan, bad, exact, attempt, m, s, embed, near)
        moved = {p for j in changed for p in plan.neurons[j].pairs} | bad
        to_measure = np.array([g for g in range(n_gates) if gate_pairs[g] & moved], dtype=np.int64)
        compiled = build()
    # pairs_predicted_over_target: the hub's count of pairs re-packed by prediction before confirmation (named
    # alike for `superpose info`); light-hub re-packs nothing by prediction, only by measurement
    compiled.meta.figures.update(confirmed=True, gates_confirmed=n_gates, repaired_pairs=len(repaired),
                                 pairs_predicted_over_target=0,
                                 repair_share=len(repaired) / max(len(shared), 1), pairs_on_exact_neurons=len(exact),
                                 confirmed_max_error=float(measured.max(initial=0.0)))
    return compiled
