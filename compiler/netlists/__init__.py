"""Netlists in other formats -> the same `Circuit` the DSL produces.

    load_netlist("c17.bench")         ISCAS .bench       (bench.py)
    load_netlist("ctrl.aig")          AIGER .aag / .aig  (aiger.py)
    load_netlist("ctrl.blif")         BLIF               (blif.py)
    simplify.simplify(circuit)        fewer buffers, wider ANDs and ORs

Each importer records the file in a `netlist.Netlist`, which checks names and
orders the gates. Netlists carry no sparsity promise: `Circuit.sparsity` is None.
"""
from superpose._lazy import lazy_exports

_EXPORTS = {"NETLIST_FORMATS": "superpose.compiler.netlists.load",
            "NETLIST_SUFFIXES": "superpose.compiler.netlists.load",
            "load_netlist": "superpose.compiler.netlists.load",
            "parse_netlist": "superpose.compiler.netlists.load",
            "parse_aiger": "superpose.compiler.netlists.aiger",
            "parse_bench": "superpose.compiler.netlists.bench",
            "parse_blif": "superpose.compiler.netlists.blif"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = list(_EXPORTS)
