"""Ground truth as safetensors files (no pickle), names in the JSON header:
feature dictionaries (runtime.dictionary) and per-gate weight components
(runtime.components). Written atomically.

Dictionary file, per layer l (h_l): `layers.{l}.write` and `layers.{l}.read`
as CSR triples (`.indptr`, `.indices`, `.data`; (n_features, width)),
`layers.{l}.bias` (width,), `layers.{l}.signals` (n_features, 2) int64,
`layers.{l}.levels`, `layers.{l}.twin` (n_features,) int64,
`layers.{l}.has_read` uint8, `layers.{l}.read_bias` float32; the header's
"layers" list gives each layer's feature names and kinds, "variance" the
explained-variance rows when they were measured.

Components file: for each hidden layer i (torch module layers.{i}), the
weight and bias of every gate's component and of the remainder are
`layers.{i}.weight` / `.bias` restricted to the neurons in
`layers.{i}.owner` ((width,) int64: the gate index, -1 for the remainder);
the file stores the owners with the weights and biases, and
`gate_readout.owner` (n_gates,), so that
component g = the rows owned by g, exactly summing to the layer.
"""
from __future__ import annotations

import json
import os

import numpy as np
import scipy.sparse as sp
from safetensors import safe_open
from safetensors.numpy import load_file, save as save_bytes

from superpose.runtime.artifact import _get_csr, _put_csr
from superpose.runtime.components import Components
from superpose.runtime.dictionary import LayerDictionary
from superpose.runtime.output_files import write_atomically

DICTIONARY_FORMAT = "superpose-dictionary"
COMPONENTS_FORMAT = "superpose-components"
METADATA_KEY = "superpose"


def save_dictionaries(dicts: list[LayerDictionary], circuit_name: str, path: str | os.PathLike,
                      variance: list[dict] | None = None) -> None:
    """Write the dictionaries of the layers (and the variance rows) to `path`."""
    tensors: dict[str, np.ndarray] = {}
    layers = []
    for d in dicts:
        prefix = f"layers.{d.layer}"
        _put_csr(tensors, f"{prefix}.write", d.write)
        _put_csr(tensors, f"{prefix}.read", d.read)
        tensors[f"{prefix}.bias"] = np.ascontiguousarray(d.bias, np.float32)
        tensors[f"{prefix}.signals"] = np.ascontiguousarray(d.signals, np.int64)
        tensors[f"{prefix}.levels"] = np.ascontiguousarray(d.levels, np.int64)
        tensors[f"{prefix}.twin"] = np.ascontiguousarray(d.twin, np.int64)
        tensors[f"{prefix}.has_read"] = d.has_read.astype(np.uint8)
        tensors[f"{prefix}.read_bias"] = np.ascontiguousarray(d.read_bias, np.float32)
        layers.append({"layer": d.layer, "width": int(d.bias.size), "names": d.names, "kinds": d.kinds})
    header = {"format": DICTIONARY_FORMAT, "version": 1, "circuit": circuit_name, "layers": layers,
              "variance": variance or []}
    write_atomically(path, save_bytes(tensors, metadata={METADATA_KEY: json.dumps(header, sort_keys=True)}))


def _header(path: str | os.PathLike, expected: str) -> dict:
    with safe_open(str(path), framework="np") as f:
        header = json.loads((f.metadata() or {}).get(METADATA_KEY, "{}"))
    if header.get("format") != expected:
        raise ValueError(f"{path}: not a {expected} file")
    return header


def load_dictionaries(path: str | os.PathLike) -> list[LayerDictionary]:
    """Read a file written by save_dictionaries."""
    header = _header(path, DICTIONARY_FORMAT)
    tensors = load_file(str(path))
    dicts = []
    for spec in header["layers"]:
        prefix, shape = f"layers.{spec['layer']}", (len(spec["names"]), spec["width"])
        dicts.append(LayerDictionary(
            spec["layer"], spec["names"], spec["kinds"], tensors[f"{prefix}.signals"], tensors[f"{prefix}.levels"],
            _get_csr(tensors, f"{prefix}.write", shape), _get_csr(tensors, f"{prefix}.read", shape),
            tensors[f"{prefix}.has_read"].astype(bool), tensors[f"{prefix}.read_bias"], tensors[f"{prefix}.bias"],
            tensors[f"{prefix}.twin"]))
    return dicts


def save_components(parts: Components, path: str | os.PathLike) -> None:
    """Write the circuit's weights with the owner of every neuron and readout row."""
    circuit = parts.circuit
    tensors: dict[str, np.ndarray] = {}
    for i, (layer, owner) in enumerate(zip(circuit.layers, parts.owners)):
        _put_csr(tensors, f"layers.{i}.weight", layer.weight.tocsr())
        tensors[f"layers.{i}.bias"] = np.ascontiguousarray(layer.bias, np.float32)
        tensors[f"layers.{i}.owner"] = np.ascontiguousarray(owner, np.int64)
    for l in sorted(circuit.gate_readout.blocks):
        _put_csr(tensors, f"gate_readout.{l}", circuit.gate_readout.layer_matrix(l, circuit.widths[l]))
    tensors["gate_readout.bias"] = np.ascontiguousarray(circuit.gate_readout.bias, np.float32)
    tensors["gate_readout.owner"] = np.ascontiguousarray(parts.readout_owner, np.int64)
    header = {"format": COMPONENTS_FORMAT, "version": 1, "circuit": circuit.name, "gate_names": circuit.gate_names,
              "shapes": [list(layer.weight.shape) for layer in circuit.layers],
              "readout_widths": circuit.widths, "remainder": -1}
    write_atomically(path, save_bytes(tensors, metadata={METADATA_KEY: json.dumps(header, sort_keys=True)}))
