"""Artifacts: a CompiledCircuit as one safetensors file, metadata as JSON in its header.

No pickle anywhere. Sparse matrices are stored as CSR triples
(`NAME.indptr`, `NAME.indices`, `NAME.data`). Files are written atomically
(runtime.output_files), and a file that is
truncated, foreign or inconsistent is refused with an ArtifactError.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from safetensors import SafetensorError, safe_open
from safetensors.numpy import load as load_bytes, save as save_bytes

from superpose.compiler.ir import circuit_from_json, circuit_to_json
from superpose.errors import ArtifactError
from superpose.metadata import CircuitMeta
from superpose.network import CompiledCircuit, Layer, Readout, ReadoutBlock
from superpose.runtime.artifact_meta import check_meta
from superpose.runtime.output_files import write_atomically

FORMAT = "superpose-circuit"
VERSION = 2  # 2: a readout block stores only the values that read its layer (rows + CSR)
METADATA_KEY = "superpose"
SOURCE_SUFFIXES = (".sbp", ".bench", ".aag", ".aig", ".blif")  # inputs of `compile`, not artifacts


def _put_csr(tensors: dict[str, np.ndarray], name: str, matrix: sp.csr_matrix) -> None:
    tensors[f"{name}.indptr"] = np.ascontiguousarray(matrix.indptr, dtype=np.int64)
    tensors[f"{name}.indices"] = np.ascontiguousarray(matrix.indices, dtype=np.int64)
    tensors[f"{name}.data"] = np.ascontiguousarray(matrix.data, dtype=np.float32)


def _readout_tensors(tensors: dict[str, np.ndarray], prefix: str, readout: Readout) -> list[int]:
    """Store every block (its rows and its CSR); return the layer indices they belong to."""
    stored = sorted(readout.blocks)
    for l in stored:
        tensors[f"{prefix}.{l}.rows"] = np.ascontiguousarray(readout.blocks[l].rows, dtype=np.int64)
        _put_csr(tensors, f"{prefix}.{l}", readout.blocks[l].weight)
    tensors[f"{prefix}.bias"] = np.ascontiguousarray(readout.bias, dtype=np.float32)
    return stored


def to_bytes(circuit: CompiledCircuit) -> bytes:
    """The artifact's bytes: the same circuit always gives the same bytes."""
    circuit.validate()
    tensors: dict[str, np.ndarray] = {}
    for i, layer in enumerate(circuit.layers):
        _put_csr(tensors, f"layers.{i}.weight", layer.weight.tocsr())
        tensors[f"layers.{i}.bias"] = np.ascontiguousarray(layer.bias, dtype=np.float32)
    header = {
        "format": FORMAT, "version": VERSION, "name": circuit.name,
        "input_names": circuit.input_names, "gate_names": circuit.gate_names,
        "output_names": circuit.output_names,
        "layers": [{"shape": list(l.weight.shape), "relu": l.relu, "kind": l.kind} for l in circuit.layers],
        "gate_readout_blocks": _readout_tensors(tensors, "gate_readout", circuit.gate_readout),
        "output_readout_blocks": _readout_tensors(tensors, "output_readout", circuit.output_readout),
        "meta": circuit.meta.to_json(),
        "program": None if circuit.program is None else circuit_to_json(circuit.program),
    }
    metadata = {METADATA_KEY: json.dumps(header, sort_keys=True, separators=(",", ":"))}
    return save_bytes(tensors, metadata=metadata)


def save(circuit: CompiledCircuit, path: str | os.PathLike) -> None:
    """Write the circuit's artifact atomically (OutputError if it cannot be written)."""
    write_atomically(path, to_bytes(circuit))


def _get_csr(tensors: dict[str, np.ndarray], name: str, shape: tuple[int, int]) -> sp.csr_matrix:
    try:
        data, indices, indptr = (tensors[f"{name}.{part}"] for part in ("data", "indices", "indptr"))
    except KeyError as missing:
        raise ArtifactError(f"tensor {missing} is missing") from None
    for part, tensor in (("indices", indices), ("indptr", indptr)):
        if not np.issubdtype(tensor.dtype, np.integer):  # scipy would cast it, a NaN with a RuntimeWarning
            raise ArtifactError(f"tensor '{name}.{part}' is corrupt: {tensor.dtype}, not integers")
    try:
        matrix = sp.csr_matrix((data, indices, indptr), shape=shape)
        matrix.check_format(full_check=True)
    except ValueError as bad:
        raise ArtifactError(f"tensor {name} is corrupt: {bad}") from None
    return matrix


def _get_readout(tensors: dict[str, np.ndarray], prefix: str, blocks: list[int],
                 n_values: int, widths: list[int]) -> Readout:
    """The readout's blocks, checked against the widths (CompiledCircuit.validate
    checks the rows)."""
    read: dict[int, ReadoutBlock] = {}
    for l in blocks:
        if not isinstance(l, int) or not 0 <= l < len(widths):
            raise ArtifactError(f"{prefix} reads layer {l}, which does not exist")
        if f"{prefix}.{l}.rows" not in tensors:
            raise ArtifactError(f"tensor '{prefix}.{l}.rows' is missing")
        rows = tensors[f"{prefix}.{l}.rows"]
        read[l] = ReadoutBlock(rows, _get_csr(tensors, f"{prefix}.{l}", (rows.size, widths[l])))
    return Readout(read, tensors[f"{prefix}.bias"])


def _get_meta(data: object) -> CircuitMeta:
    try:
        return CircuitMeta.from_json(data)
    except ValueError as error:
        raise ArtifactError(f"bad metadata: {error}") from None


def _read_header(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="np") as f:
            metadata = f.metadata() or {}
    except (SafetensorError, OSError, ValueError) as error:
        if path.suffix.lower() in SOURCE_SUFFIXES:
            raise ArtifactError(f"{path}: this is a program or netlist, not a compiled artifact: compile it "
                                f"first (superpose compile {path} -o {path.stem}.safetensors)") from None
        raise ArtifactError(f"{path}: not a readable safetensors file ({error})") from None
    if METADATA_KEY not in metadata:
        raise ArtifactError(f"{path}: a safetensors file, but not a superpose circuit "
                            f"(no '{METADATA_KEY}' metadata)")
    try:
        header = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError as error:
        raise ArtifactError(f"{path}: corrupt superpose metadata ({error})") from None
    if not isinstance(header, dict):
        raise ArtifactError(f"{path}: corrupt superpose metadata (a JSON {_json_kind(header)}, expected an object)")
    names = {key: header.get(key) for key in ("input_names", "gate_names", "output_names")}
    for key, value in names.items():
        if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
            raise ArtifactError(f"{path}: corrupt superpose metadata ({key!r} must be a list of names)")
    if not isinstance(header.get("name"), str):
        raise ArtifactError(f"{path}: corrupt superpose metadata ('name' is a JSON {_json_kind(header.get('name'))})")
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise ArtifactError(f"{path}: unsupported artifact format {header.get('format')!r} "
                            f"version {header.get('version')!r} (this superpose reads {FORMAT} v{VERSION})")
    return header


def _json_kind(value: object) -> str:
    """What a parsed JSON value is, in JSON's words."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def load(path: str | os.PathLike) -> CompiledCircuit:
    """Read an artifact written by `save`; ArtifactError if it is not one."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: no such file")
    header = _read_header(path)
    try:
        tensors = load_bytes(path.read_bytes())
    except (SafetensorError, ValueError) as error:
        raise ArtifactError(f"{path}: truncated or corrupt ({error})") from None
    try:
        layers = []
        for i, spec in enumerate(header["layers"]):
            shape = tuple(spec["shape"])
            if not isinstance(spec["kind"], str) or not isinstance(spec["relu"], bool):
                raise ArtifactError(f"layer {i + 1} has kind {spec['kind']!r} and relu {spec['relu']!r}, "
                                    "expected a name and true or false")
            layers.append(Layer(_get_csr(tensors, f"layers.{i}.weight", shape),
                                tensors[f"layers.{i}.bias"], spec["relu"], spec["kind"]))
        widths = [len(header["input_names"])] + [layer.width for layer in layers]
        circuit = CompiledCircuit(
            name=header["name"], input_names=header["input_names"], gate_names=header["gate_names"],
            output_names=header["output_names"], layers=layers,
            gate_readout=_get_readout(tensors, "gate_readout", header["gate_readout_blocks"],
                                      len(header["gate_names"]), widths),
            output_readout=_get_readout(tensors, "output_readout", header["output_readout_blocks"],
                                        len(header["output_names"]), widths),
            meta=_get_meta(header["meta"]),
            program=None if header.get("program") is None else circuit_from_json(header["program"]))
        circuit.validate()
        check_meta(circuit.meta, circuit.n_gates)
    except ArtifactError as error:
        raise ArtifactError(f"{path}: {error}") from None
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, OverflowError) as error:
        raise ArtifactError(f"{path}: inconsistent artifact ({type(error).__name__}: {error})") from None
    return circuit
