"""The whole pipeline, stage after stage: file or text -> IR -> lowering -> CompiledCircuit."""
from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from superpose.compiler.netlists.load import NETLIST_SUFFIXES, load_netlist
from superpose.compiler.netlists.simplify import simplify as simplify_netlist
from superpose.compiler.constant_gates import constant_gates
from superpose.compiler.errors import CompileError, Diagnostic
from superpose.compiler.frontend import circuit_from_file, circuit_from_source
from superpose.compiler.ir import Circuit
from superpose.compiler.limits import MAX_GATES
from superpose.compiler.sparsity import analyse_sparsity
from superpose.compiler.plan import Plan, choose_plan
from superpose.compiler.strategies import default_strategy, strategy_named, strategy_options, strategy_taking
from superpose.network import CompiledCircuit


def compile_circuit(circuit: Circuit, *, strategy: str | None = None, seed: int = 0, sparsity: int | None = None,
                    options: Any = None, **option_values: Any) -> CompiledCircuit:
    """Lower an IR circuit with `strategy` (a name in compiler.strategies.STRATEGIES;
    by default "exact" without a sparsity, and with one the plan compiler.plan
    picks, "hub" or "deep", its reason in meta.figures["plan"]), configured by
    `options` (the strategy's options type, which alone names the strategy) or
    by its options as keywords, e.g. compile_circuit(c, strategy="chained",
    target_error=0.001).

    `sparsity` replaces the circuit's declared sparsity (the caller's circuit
    is not changed). `seed` drives every random choice, so the same inputs give
    the same weights. With a sparsity, meta.sparsity_levels holds
    SparsityReport.rows(), and meta.constant_gates the gates constant under it
    (constant_gates.py). CompileError on options that do not fit."""
    if sparsity is not None:
        if not 1 <= sparsity <= circuit.n_inputs:
            raise CompileError(f"sparsity must be between 1 and the number of inputs ({circuit.n_inputs}), "
                               f"got {sparsity}")
        circuit = replace(circuit, sparsity=sparsity)
    plan = None
    if strategy is None and options is None and circuit.sparsity is not None:
        plan = choose_plan(circuit)
        strategy = plan.strategy
    if strategy is None:
        strategy = default_strategy(circuit) if options is None else strategy_taking(options).name
    chosen = strategy_named(strategy)
    chosen_options = strategy_options(chosen, options, **option_values)
    if chosen.needs_sparsity and circuit.sparsity is None:
        raise CompileError(f"strategy {chosen.name!r} needs a sparsity: declare 'sparsity s' in "
                           f"{circuit.name}'s program or pass sparsity=s")
    compiled = chosen.lower(circuit, chosen_options, np.random.default_rng(seed))
    if plan is not None and plan.strategy == "hub" and not option_values:
        compiled, plan = _smaller_of_flattened_and_exact(circuit, compiled, plan, seed)
    elif plan is not None and plan.try_flattened and not option_values:
        compiled, plan = _smaller_of_deep_and_flattened(circuit, compiled, plan, seed)
    compiled.meta.seed = seed
    if plan is not None:
        compiled.meta.figures["plan"] = plan.reason
    if circuit.sparsity is not None:
        wires = analyse_sparsity(circuit, circuit.sparsity)
        compiled.meta.sparsity_levels = wires.rows()
        compiled.meta.constant_gates = constant_gates(circuit, wires)
    return compiled


def _smaller_of_flattened_and_exact(circuit: Circuit, flattened: CompiledCircuit, plan: Plan,
                                    seed: int) -> tuple[CompiledCircuit, Plan]:
    """The default plan's flattened network, or the exact lowering where that
    has fewer neurons: the hub packing confirmed under structured co-activity
    can need more neurons than gates (circuits of 8 inputs over 3 levels: 1,123
    neurons for 768 gates), and superposition that does not pay is not chosen."""
    exact = strategy_named("exact")
    fallback = exact.lower(circuit, strategy_options(exact, None), np.random.default_rng(seed))
    if fallback.n_neurons >= flattened.n_neurons:
        return flattened, plan
    return fallback, Plan("exact", f"exact: {fallback.n_neurons:,} neurons, fewer than the "
                                   f"{flattened.n_neurons:,} of the flattened layer ({plan.reason})")


def _smaller_of_deep_and_flattened(circuit: Circuit, deep: CompiledCircuit, plan: Plan,
                                   seed: int) -> tuple[CompiledCircuit, Plan]:
    """The deep network, or the flattened layer where that has fewer neurons:
    in the band of support patterns where either can win (plan.py). Both keep
    their errors within the target by measurement, so neurons decide (the deep
    lowering has already weighed the all-exact network)."""
    hub = strategy_named("hub")
    flattened = hub.lower(circuit, strategy_options(hub, None), np.random.default_rng(seed))
    if flattened.n_neurons >= deep.n_neurons:
        return deep, Plan("deep", f"{plan.reason}; {deep.n_neurons:,} neurons, fewer than the "
                                  f"{flattened.n_neurons:,} of the flattened layer")
    return flattened, Plan("hub", f"flattened: {flattened.n_neurons:,} neurons, fewer than the {deep.n_neurons:,} of "
                                  f"the deep lowering ({plan.reason})")


def load_circuit(path: str | os.PathLike, *, format: str | None = None, simplify: bool = True,
                 max_gates: int = MAX_GATES) -> Circuit:
    """Read a program (.sbp) or a netlist (.bench, .aag, .aig, .blif) into the IR.
    A netlist is simplified (netlists.simplify: buffer chains collapsed, same-op
    gates merged) unless `simplify` is False; only gates outputs read keep their names.
    More than `max_gates` signals (limits.MAX_GATES) is a CompileError."""
    suffix = Path(path).suffix.lower()
    if format == "sbp" or format is None and suffix == ".sbp":
        return circuit_from_file(path, max_gates)
    if format is not None or suffix in NETLIST_SUFFIXES:
        circuit = load_netlist(path, format=format, max_gates=max_gates)
        return simplify_netlist(circuit) if simplify else circuit
    try:
        return circuit_from_file(path, max_gates)
    except CompileError as error:  # a netlist with another suffix fails here: say how it was read
        raise CompileError(error.diagnostics + [Diagnostic(
            f"{path}: read as a superpose program, as '{suffix or '(no suffix)'}' is not a netlist suffix; "
            f"for a netlist, pass --format bench, aiger or blif (format= in Python)")]) from None


def compile_file(path: str | os.PathLike, *, seed: int = 0, format: str | None = None, simplify: bool = True,
                 max_gates: int = MAX_GATES, **kwargs: Any) -> CompiledCircuit:
    """Compile a program or netlist file (keywords as load_circuit and compile_circuit);
    CompileError on bad input."""
    circuit = load_circuit(path, format=format, simplify=simplify, max_gates=max_gates)
    return compile_circuit(circuit, seed=seed, **kwargs)


def compile_source(text: str, *, filename: str = "<string>", seed: int = 0, max_gates: int = MAX_GATES,
                   **kwargs: Any) -> CompiledCircuit:
    """Compile program text (keywords as compile_circuit); CompileError on bad input,
    including more than `max_gates` signals after loop expansion (limits.MAX_GATES)."""
    return compile_circuit(circuit_from_source(text, filename, max_gates), seed=seed, **kwargs)
