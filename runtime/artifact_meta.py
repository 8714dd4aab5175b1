"""The rows inside an artifact's metadata that the runtime reads field by
field, checked on load beyond what CircuitMeta.from_json checks (that they
are lists of objects): a file edited by hand or by another tool is an
ArtifactError naming the field, not a traceback in `info` or `report` later."""
from __future__ import annotations

from superpose.errors import ArtifactError
from superpose.metadata import CircuitMeta

NUMBER = (int, float)
MAX_LEVEL = 10 ** 9  # a level number beyond this is corruption, and would overflow numpy's integers

# CircuitMeta field -> (row field -> the types it may have, whether every row must have every field)
ROWS: dict[str, tuple[dict[str, type | tuple[type, ...]], bool]] = {
    "sparsity_levels": ({"level": int, "wires": int, "dense_wires": int, "unenumerated": int, "max_on": int,
                         "share": NUMBER, "too_dense": bool}, True),
    "constant_gates": ({"gate": str, "value": int, "where": (str, type(None))}, True),
    "levels": ({"level": int, "neurons": (int, type(None)), "gates_per_neuron": (*NUMBER, type(None))}, False),
}


def check_meta(meta: CircuitMeta, n_gates: int) -> None:
    """ArtifactError for the first value of `meta` the runtime would misread."""
    if meta.sparsity is not None and meta.sparsity < 1:
        raise ArtifactError(f"metadata sparsity is {meta.sparsity}, expected at least 1")
    for name, (row_fields, required) in ROWS.items():
        for row in getattr(meta, name):
            for key, types in row_fields.items():
                if (key in row or required) and not isinstance(row.get(key), types):
                    raise ArtifactError(f"metadata {name} has {key} {row.get(key)!r}, expected {_names(types)}")
    levels = meta.layer_of_gate
    if levels is not None and (len(levels) != n_gates or not all(0 <= v <= MAX_LEVEL for v in levels)):
        raise ArtifactError(f"metadata layer_of_gate must list a level from 0 to {MAX_LEVEL:,} for each of the "
                            f"{n_gates} gates")


def _names(types: type | tuple[type, ...]) -> str:
    return " or ".join(t.__name__ for t in (types if isinstance(types, tuple) else (types,)))
