"""Benchmark programs made by code, each an IR circuit from a few numbers and a seed.

    uand      random_pairs_circuit(m, n_gates, sparsity, seed)    one layer of pairwise ANDs (uand.py)
    layered   layered_circuit(n_gates, seed)                      four layers of mixed gates (layered.py)
    circuits  circuits_circuit(n_circuits, levels, width, inputs, sparsity, seed)
                                                                  many small deep circuits (circuits.py)
    chain     chain_circuit(levels, gates, m, sparsity, seed)     deep levels of random gates (chain.py)

The same name, parameters and seed always give the same circuit. The scripts
bench/gen_*.py write them as programs; `superpose sweep` names them in its specs
(registry.py: the generators by name, their parameters checked). This
`__init__` imports nothing itself (see superpose._lazy).
"""
from superpose._lazy import lazy_exports

_EXPORTS = {
    "random_pairs_circuit": "superpose.compiler.generators.uand",
    "layered_circuit": "superpose.compiler.generators.layered",
    "layered_source": "superpose.compiler.generators.layered",
    "circuits_circuit": "superpose.compiler.generators.circuits",
    "chain_circuit": "superpose.compiler.generators.chain",
    "GENERATORS": "superpose.compiler.generators.registry",
    "generate_circuit": "superpose.compiler.generators.registry",
    "generator_parameters": "superpose.compiler.generators.registry",
}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
