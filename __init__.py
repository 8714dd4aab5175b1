"""superpose: sparse boolean programs compiled to ReLU networks in superposition,
with every gate's error measured on the compiled weights.

The public API (the stages stay reachable as `superpose.compiler.…` and
`superpose.runtime.…`):

    circ = superpose.compile_file("prog.sbp")           # or compile_source(text)
    circ.run(x); circ.gate_values(x)                     # x: (batch, n_inputs) of 0/1
    report = superpose.error_report(circ, samples=1000)  # per-gate error
    result = superpose.verify(circ, max_active=3)        # proved / counterexample / unknown
    circ.save("prog.safetensors"); superpose.load("prog.safetensors")

This file is the package root: pyproject.toml maps the repository's top level
to `superpose` (package-dir), so compiler/ and runtime/ are its subpackages.
"""
from superpose.compiler import (ChainOptions, CompileError, SuperposeOptions, compile_circuit, compile_file,
                                compile_source, load_circuit)
from superpose.runtime import CompiledCircuit, UserError, load, verify
from superpose.runtime.report import ErrorReport, error_report

__all__ = ["ChainOptions", "CompileError", "CompiledCircuit", "ErrorReport", "SuperposeOptions", "UserError",
           "compile_circuit", "compile_file", "compile_source", "error_report", "load", "load_circuit", "verify"]
