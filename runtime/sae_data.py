"""What a sparse autoencoder (SAE) needs from a compiled circuit, in torch:
a stream of one layer's activations for its training loop, the layer's true
features (runtime.dictionary) with their activations, and scores of a learned
decoder against them. Needs no SAE library (runtime.sae_lens_adapter wires
these into SAELens).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from superpose.compiler.interpret import evaluate
from superpose.network import CompiledCircuit
from superpose.runtime.datasets import BATCH_ROWS, Distribution, batches
from superpose.runtime.dictionary import KINDS, LayerDictionary

ENDLESS = 1 << 62  # rows of a stream: more than any training run draws
RECOVERED_COSINE = 0.9  # a true feature counts as recovered when some decoder row is this close


def activation_stream(circuit: CompiledCircuit, layer: int, distribution: Distribution = Distribution(),
                      batch_size: int = 1024, seed: int = 0) -> Iterator[torch.Tensor]:
    """An endless iterator of (batch_size, width) float32 activations of h_layer,
    deterministic for a seed (the data provider of an SAE trainer). Rows are
    drawn about BATCH_ROWS at a time (sampling per gate pays per call) and sliced."""
    draw = max(BATCH_ROWS // batch_size, 1) * batch_size
    for chunk in batches(circuit, ENDLESS, distribution, [layer], draw, seed):
        rows = torch.from_numpy(chunk.activations[layer])
        yield from rows.split(batch_size)


@dataclass
class GroundTruth:
    """The features an SAE should find in one layer.
    vectors: (n_features, width) float32 write vectors; names: (n_features,);
    twin: (n_features,) group ids (-1: no twin), from the dictionary."""
    vectors: torch.Tensor
    names: list[str]
    twin: np.ndarray
    dictionary: LayerDictionary
    chosen: np.ndarray  # (n_features,) the rows of the dictionary kept

    @classmethod
    def of(cls, dictionary: LayerDictionary, kinds: tuple[str, ...] = ("gate",)) -> "GroundTruth":
        """The dictionary's features of the given kinds (default: the gates)."""
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown feature kinds {sorted(unknown)} (choose from {', '.join(KINDS)})")
        chosen = np.flatnonzero(np.isin(dictionary.kinds, kinds))
        vectors = torch.from_numpy(dictionary.write[chosen].toarray().astype(np.float32))
        return cls(vectors, [dictionary.names[i] for i in chosen], dictionary.twin[chosen], dictionary, chosen)

    def activations(self, circuit: CompiledCircuit, inputs) -> torch.Tensor:
        """inputs: (batch, n_inputs) CSR of 0/1 -> (batch, n_features) float32, 1 where a feature is on."""
        values = evaluate(circuit.program, inputs.toarray() != 0)
        return torch.from_numpy(self.dictionary.on(values)[:, self.chosen].astype(np.float32))


def max_cosines(decoder: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
    """decoder: (n_latents, width), vectors: (n_features, width) -> (n_features,)
    the largest cosine similarity of each true feature with any decoder row."""
    unit = lambda m: m / m.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return (unit(vectors) @ unit(decoder).T).max(dim=1).values


def decoder_scores(decoder: torch.Tensor, vectors: torch.Tensor) -> dict[str, float]:
    """Mean max cosine similarity (MMCS) of the true feature vectors
    (n_features, width) with the decoder rows (n_latents, width), and the share
    of true features recovered (max cosine > RECOVERED_COSINE)."""
    best = max_cosines(decoder.detach().float(), vectors)
    return {"mmcs": float(best.mean()), "recovered": float((best > RECOVERED_COSINE).float().mean())}


def reconstruction_scores(activations: torch.Tensor, reconstruction: torch.Tensor,
                          latents: torch.Tensor) -> dict[str, float]:
    """Explained variance of the reconstruction, mean L0 of the latents and the
    number of latents that never fired; (batch, width), (batch, width), (batch, n_latents)."""
    residual = ((activations - reconstruction) ** 2).sum()
    total = ((activations - activations.mean(dim=0)) ** 2).sum()
    return {"explained_variance": float(1 - residual / total), "l0": float((latents != 0).float().sum(1).mean()),
            "dead_latents": int(((latents != 0).sum(0) == 0).sum())}
