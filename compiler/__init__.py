"""superpose compiler: boolean programs -> ReLU networks.

The pipeline, stage after stage (each module runs on its own):
  1. source.py / parse.py   text -> syntax tree            (DSL)
     netlists/               .bench, .aag/.aig, .blif -> circuit
  2. check.py               syntax tree -> ir.Circuit (names, loops, vectors resolved)
  3. ir.py                  the circuit: gates in a DAG, levels, supports
  4. lower_exact.py         circuit -> exact ReLU layers, one set of neurons per gate
  5. runtime.CompiledCircuit  the result: run, gate_values, to_torch, save
"""
from __future__ import annotations

import os
from pathlib import Path

from compiler.errors import CompileError, Diagnostic
from compiler.frontend import circuit_from_file, circuit_from_source
from compiler.interpret import evaluate, gate_values, output_values
from compiler.ir import Circuit, Lit, Node, Op
from compiler.lower_exact import lower_exact
from runtime.circuit import CompiledCircuit


def compile_circuit(circuit: Circuit, *, seed: int = 0) -> CompiledCircuit:
    """Lower an IR circuit. `seed` drives every random choice of the lowering."""
    compiled = lower_exact(circuit)
    compiled.meta["seed"] = seed
    return compiled


def load_circuit(path: str | os.PathLike, *, format: str | None = None) -> Circuit:
    """Read a program (.sbp) or a netlist (.bench, .aag, .aig, .blif) into the IR."""
    from compiler.netlists import NETLIST_SUFFIXES, load_netlist
    if format is not None or Path(path).suffix.lower() in NETLIST_SUFFIXES:
        return load_netlist(path, format=format)
    return circuit_from_file(path)


def compile_file(path: str | os.PathLike, *, seed: int = 0, format: str | None = None) -> CompiledCircuit:
    """Compile a program or netlist file; CompileError on bad input."""
    return compile_circuit(load_circuit(path, format=format), seed=seed)


def compile_source(text: str, *, filename: str = "<string>", seed: int = 0) -> CompiledCircuit:
    """Compile program text; CompileError on bad input."""
    return compile_circuit(circuit_from_source(text, filename), seed=seed)


__all__ = ["Circuit", "CompileError", "CompiledCircuit", "Diagnostic", "Lit", "Node", "Op",
           "circuit_from_file", "circuit_from_source", "compile_circuit", "compile_file",
           "compile_source", "evaluate", "gate_values", "load_circuit", "lower_exact", "output_values"]
