"""superpose: sparse boolean programs compiled to ReLU networks in superposition,
with every gate's error measured on the compiled weights.

The public API:

    circ = superpose.compile_file("prog.sbp")            # or compile_source(text, strategy=..., target_error=...)
    circ.run(x); circ.gate_values(x)                      # x: (batch, n_inputs) of 0/1
    report = superpose.error_report(circ, samples=1000)   # per-gate error
    result = superpose.verify(circ, max_active=3)         # proved / counterexample / unknown
    superpose.save(circ, "prog.safetensors"); superpose.load("prog.safetensors")
    model = superpose.to_torch(circ)                      # nn.Linear + nn.ReLU

The stages stay reachable as `superpose.compiler.…` and `superpose.runtime.…`.
pyproject.toml maps the repository's top level to `superpose` (package-dir).

Layering, bottom to top (a module imports only from its own layer or below;
tests/test_layering.py checks it):
  1. errors.py, _lazy.py, the package __init__ files (lazy tables, no imports)
  2. compiler/ir.py                               the circuit IR
  3. compiler/errors.py, interpret.py, multilinear.py, limits.py   semantics, polynomial algebra, limits
  4. compiler/sampling.py, sparsity.py, constant_gates.py          analyses of a program
  5. metadata.py, network.py                      CompiledCircuit: layers, readouts, forward pass, CircuitMeta
  6. compiler front ends (source, parse, check, frontend, emit_dsl, netlists/, generators/)
  7. compiler lowerings (lowering, hub_packing, lower_*, embeddings) and strategies.py
  8. compiler/pipeline.py                         file or text -> CompiledCircuit
  9. runtime/ (output_files, terminal, json_output, artifact, report, depth_report, torch_module, bounds, verify/)
 10. runtime/cli.py, runtime/pytest_plugin.py
"""
from superpose._lazy import lazy_exports

# name -> the package or module that defines it (the stages' own tables say where exactly)
_EXPORTS = {
    **dict.fromkeys(["compile_file", "compile_source", "compile_circuit", "load_circuit", "STRATEGIES",
                     "ExactOptions", "HubOptions", "LightHubOptions", "PaperUandOptions", "ChainOptions",
                     "CompileError"],
                    "superpose.compiler"),
    **dict.fromkeys(["load", "save", "error_report", "ErrorReport", "to_torch"], "superpose.runtime"),
    **dict.fromkeys(["verify", "VerifyResult"], "superpose.runtime.verify"),
    **dict.fromkeys(["CompiledCircuit", "THRESHOLD"], "superpose.network"),
    **dict.fromkeys(["UserError", "ArtifactError", "OutputError"], "superpose.errors"),
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, subpackages=("compiler", "runtime"))
__all__ = sorted(_EXPORTS)
