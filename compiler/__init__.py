"""superpose compiler: boolean programs -> ReLU networks.

The pipeline, stage after stage (pipeline.py runs them in order; each module runs on its own):
  1. source.py / parse.py   text -> syntax tree            (DSL)
     netlists/               .bench, .aag/.aig, .blif -> circuit
     generators/             benchmark circuits made by code (uand, layered, circuits, chain)
  2. check.py               syntax tree -> ir.Circuit (names, loops, vectors resolved)
  3. ir.py                  the circuit: gates in a DAG, levels, supports (what each pass adds: ir.py)
     interpret.py           the reference semantics
     multilinear.py         gates as polynomials of their inputs, truncated to degree s
     sampling.py            the stratified test distribution of every gate
     sparsity.py            how many wires of each level can be on at once (when the circuit has a sparsity)
  4. strategies.py          the lowerings by name, each with its options type:
       lower_exact.py         "exact": exact ReLU layers, one set of neurons per gate
       lower_superposed.py    "hub", "light-hub", "paper-uand": gates sharing neurons in one
                              superposed layer (embeddings.py: input codes; hub_packing.py,
                              light_hub.py: how pairs share neurons)
       lower_light_hub.py     "light-hub" as compiled: light_hub.py's plan confirmed on the compiled
                              weights under both fills (hub_confirm.py) and repaired
       lower_chained.py       "chained": one superposed layer per level, with threshold resets
       lower_cis.py           "cis": the Circuits in Superposition 2 construction over the
                              program's independent sub-circuits, as a baseline
       lower_deep.py          "deep": one layer per level, wires carried in superposition
                              (deep_forms.py: small neurons; deep_codes.py: where their copies go;
                              deep_probes.py: structured probes of every level)
     plan.py                which strategy a program with a sparsity gets when none is named
  5. superpose.network.CompiledCircuit  the result, which the runtime runs, reports on, exports and stores

Layering: the compiler imports the IR-level modules above and superpose.network,
never superpose.runtime. This `__init__` imports nothing itself (see superpose._lazy):
`import superpose.compiler.ir` loads only the IR.
"""
from superpose._lazy import lazy_exports

_EXPORTS = {
    "compile_file": "superpose.compiler.pipeline", "compile_source": "superpose.compiler.pipeline",
    "compile_circuit": "superpose.compiler.pipeline", "load_circuit": "superpose.compiler.pipeline",
    "circuit_from_file": "superpose.compiler.frontend", "circuit_from_source": "superpose.compiler.frontend",
    "STRATEGIES": "superpose.compiler.strategies",
    "ExactOptions": "superpose.compiler.lower_exact", "HubOptions": "superpose.compiler.lower_superposed",
    "PaperUandOptions": "superpose.compiler.lower_superposed",
    "LightHubOptions": "superpose.compiler.lower_light_hub", "ChainOptions": "superpose.compiler.lower_chained",
    "DeepOptions": "superpose.compiler.lower_deep",
    "CisOptions": "superpose.compiler.lower_cis",
    "Circuit": "superpose.compiler.ir", "Lit": "superpose.compiler.ir", "Node": "superpose.compiler.ir",
    "Op": "superpose.compiler.ir",
    "evaluate": "superpose.compiler.interpret", "gate_values": "superpose.compiler.interpret",
    "output_values": "superpose.compiler.interpret",
    "CompileError": "superpose.compiler.errors", "Diagnostic": "superpose.compiler.errors",
    "SparsityReport": "superpose.compiler.sparsity", "analyse_sparsity": "superpose.compiler.sparsity",
    "MAX_GATES": "superpose.compiler.limits",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, subpackages=("netlists", "generators"))
__all__ = sorted(_EXPORTS)
