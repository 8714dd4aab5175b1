"""Activation datasets on disk: runtime.datasets batches written as shards.

OUT/shard-00000.safetensors, ...: tensors `inputs` (rows, n_inputs) uint8,
`gates` (rows, n_gates) uint8 (the interpreter's values) and
`activations.{l}` (rows, width_l) float32 for each chosen layer l (h_l, the
output of torch module layers.{l-1}); OUT/manifest.json names the inputs,
gates and layers, the distribution, seed and every shard's rows.
Memory holds one shard; the folder appears only when complete (it is
written as a hidden sibling and renamed), so a failed run leaves nothing.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import asdict
from pathlib import Path

import numpy as np
from rich.progress import Progress
from safetensors.numpy import save_file

from superpose.network import CompiledCircuit
from superpose.runtime.datasets import BATCH_ROWS, ActivationBatch, Distribution, batches, check_layers
from superpose.errors import UserError

FORMAT = "superpose-activations"
VERSION = 1


def check_output_folder(out: str | os.PathLike) -> Path:
    """UserError unless `out` is a folder that can be created (absent, in a writable folder)."""
    out = Path(out)
    if out.exists():
        raise UserError(f"-o {out}: already exists (choose a new folder; nothing is overwritten)")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise UserError(f"-o {out}: cannot create it in '{parent}'")
    return out


def _write_shard(folder: Path, index: int, parts: list[ActivationBatch], layers: list[int]) -> dict:
    # C order: safetensors writes an array's memory as it lies, so a Fortran-ordered one would come back transposed
    tensors = {"inputs": np.ascontiguousarray(np.concatenate([p.inputs.toarray() for p in parts]), np.uint8),
               "gates": np.ascontiguousarray(np.concatenate([p.gates for p in parts]), np.uint8)}
    for l in layers:
        tensors[f"activations.{l}"] = np.ascontiguousarray(np.concatenate([p.activations[l] for p in parts]),
                                                           np.float32)
    name = f"shard-{index:05d}.safetensors"
    save_file(tensors, str(folder / name))
    return {"file": name, "rows": int(tensors["inputs"].shape[0])}


def write_shards(circuit: CompiledCircuit, out: str | os.PathLike, samples: int, distribution: Distribution,
                 layers: list[int] | None = None, shard_rows: int = 65536, batch_size: int = BATCH_ROWS, seed: int = 0,
                 progress: bool = False) -> dict:
    """Write `samples` rows as shards of at most `shard_rows` into the new folder
    `out`; return the manifest."""
    out = check_output_folder(out)
    distribution.check(circuit)
    layers = check_layers(circuit, layers)
    batch_size = min(batch_size, shard_rows)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent if str(out.parent) else "."))
    try:
        shards, pending, pending_rows = [], [], 0
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task(f"sampling {distribution.mode} activations", total=samples)
            for batch in batches(circuit, samples, distribution, layers, batch_size, seed):
                pending.append(batch)
                pending_rows += batch.gates.shape[0]
                if pending_rows >= shard_rows:
                    shards.append(_write_shard(staging, len(shards), pending, layers))
                    pending, pending_rows = [], 0
                bar.advance(task, batch.gates.shape[0])
            if pending:
                shards.append(_write_shard(staging, len(shards), pending, layers))
        manifest = {"format": FORMAT, "version": VERSION, "circuit": circuit.name, "samples": samples,
                    "seed": seed, "distribution": asdict(distribution), "input_names": circuit.input_names,
                    "gate_names": circuit.gate_names, "layers": layers,
                    "widths": {str(l): circuit.widths[l] for l in layers}, "shards": shards}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=1))
        os.replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest
