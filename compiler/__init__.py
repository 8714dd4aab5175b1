"""superpose compiler: boolean programs -> ReLU networks.

The pipeline, stage after stage (each module runs on its own):
  1. source.py / parse.py   text -> syntax tree            (DSL)
     netlists/               .bench, .aag/.aig, .blif -> circuit
  2. check.py               syntax tree -> ir.Circuit (names, loops, vectors resolved)
  3. ir.py                  the circuit: gates in a DAG, levels, supports
     sparsity.py            how many wires of each level can be on at once (when the circuit has a sparsity)
  4. lower_exact.py         circuit -> exact ReLU layers, one set of neurons per gate
     lower_superposed.py    circuit with sparsity -> gates sharing neurons in superposition
       (multilinear.py: gates as polynomials of their inputs; embeddings.py: input codes)
     lower_chained.py       deep circuit with sparsity -> one superposed layer per level, with
                            threshold resets between levels (strategy "chained")
  5. runtime.CompiledCircuit  the result: run, gate_values, error_report, to_torch, save
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from superpose.compiler.errors import CompileError, Diagnostic
from superpose.compiler.frontend import circuit_from_file, circuit_from_source
from superpose.compiler.interpret import evaluate, gate_values, output_values
from superpose.compiler.ir import Circuit, Lit, Node, Op
from superpose.compiler.lower_chained import ChainOptions, lower_chained
from superpose.compiler.lower_exact import lower_exact
from superpose.compiler.lower_superposed import SuperposeOptions, lower_superposed
from superpose.compiler.sparsity import SparsityReport, analyse_sparsity
from superpose.runtime.circuit import CompiledCircuit


def compile_circuit(circuit: Circuit, *, seed: int = 0, exact: bool = False, sparsity: int | None = None,
                    options: SuperposeOptions | ChainOptions | None = None) -> CompiledCircuit:
    """Lower an IR circuit: in superposition when it declares sparsity (or
    `sparsity` is given), exactly when it does not or `exact` is set. `seed`
    drives every random choice, so the same inputs give the same weights.
    SuperposeOptions picks the single superposed layer (strategy "hub" or
    "paper-uand"); ChainOptions, or SuperposeOptions(strategy="chained"), the
    chained lowering, which needs a sparsity and cannot be exact.
    With a sparsity, meta["sparsity_levels"] holds SparsityReport.rows()."""
    if sparsity is not None:
        if not 1 <= sparsity <= circuit.n_inputs:
            raise CompileError(f"--sparsity must be between 1 and the number of inputs ({circuit.n_inputs}), "
                               f"got {sparsity}")
        circuit.sparsity = sparsity
    if isinstance(options, SuperposeOptions) and options.strategy == "chained":
        options = chain_options(options)
    if isinstance(options, ChainOptions):
        if exact:
            raise CompileError("--exact and --strategy chained are two different lowerings: choose one")
        if circuit.sparsity is None:
            raise CompileError(f"--strategy chained needs a sparsity: declare 'sparsity s' in {circuit.name}'s "
                               f"program or pass --sparsity s")
        compiled = lower_chained(circuit, options, np.random.default_rng(seed))
    elif exact or circuit.sparsity is None:
        compiled = lower_exact(circuit)
    else:
        compiled = lower_superposed(circuit, options or SuperposeOptions(), np.random.default_rng(seed))
    compiled.meta["seed"] = seed
    if circuit.sparsity is not None:
        compiled.meta["sparsity_levels"] = analyse_sparsity(circuit, circuit.sparsity).rows()
    return compiled


def chain_options(options: SuperposeOptions, control: bool = True, superpose: str = "auto") -> ChainOptions:
    """The ChainOptions of SuperposeOptions(strategy="chained"): its target
    error, `control` (False: naive chaining, no threshold resets) and
    `superpose` ("auto": only levels where it saves neurons; "always"). Knobs of
    the single superposed layer are a CompileError naming their flags."""
    unused = [flag for flag, is_set in (("--width", options.width is not None),
                                        ("--embed-dim", options.embed_dim is not None),
                                        ("--embedding", options.embedding != "random"),
                                        ("--p", options.p is not None)) if is_set]
    if unused:
        raise CompileError(f"{', '.join(unused)} {'does' if len(unused) == 1 else 'do'} not apply to "
                           f"--strategy chained (it reads the inputs uncompressed and sizes every level "
                           f"from --target-error)")
    return ChainOptions(target_error=options.target_error, control=control, superpose=superpose)


def load_circuit(path: str | os.PathLike, *, format: str | None = None, simplify: bool = True) -> Circuit:
    """Read a program (.sbp) or a netlist (.bench, .aag, .aig, .blif) into the IR.
    A netlist is simplified (netlists.simplify: buffer chains collapsed, same-op
    gates merged) unless `simplify` is False; only gates outputs read keep their names."""
    from superpose.compiler import netlists
    if format == "sbp":
        return circuit_from_file(path)
    if format is not None or Path(path).suffix.lower() in netlists.NETLIST_SUFFIXES:
        circuit = netlists.load_netlist(path, format=format)
        return netlists.simplify(circuit) if simplify else circuit
    return circuit_from_file(path)


def compile_file(path: str | os.PathLike, *, seed: int = 0, format: str | None = None, simplify: bool = True,
                 **kwargs) -> CompiledCircuit:
    """Compile a program or netlist file (keywords as load_circuit and compile_circuit);
    CompileError on bad input."""
    return compile_circuit(load_circuit(path, format=format, simplify=simplify), seed=seed, **kwargs)


def compile_source(text: str, *, filename: str = "<string>", seed: int = 0, **kwargs) -> CompiledCircuit:
    """Compile program text (keywords as compile_circuit); CompileError on bad input."""
    return compile_circuit(circuit_from_source(text, filename), seed=seed, **kwargs)


__all__ = ["ChainOptions", "Circuit", "CompileError", "CompiledCircuit", "Diagnostic", "Lit", "Node", "Op",
           "chain_options", "circuit_from_file", "circuit_from_source", "compile_circuit", "compile_file",
           "compile_source", "evaluate", "SparsityReport", "SuperposeOptions", "analyse_sparsity",
           "lower_chained", "lower_superposed", "gate_values", "load_circuit", "lower_exact", "output_values"]
