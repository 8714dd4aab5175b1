"""SAEs on a compiled layer: SAELens end to end (the example script, at a tiny
size), and the same path with a minimal torch SAE, which needs no extra."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from superpose import compiler
from superpose.runtime.datasets import Distribution, sample_inputs
from superpose.runtime.dictionary import layer_dictionary
from superpose.runtime.sae_data import GroundTruth, activation_stream, decoder_scores, reconstruction_scores
from tests.test_truth import uand_source

ROOT = Path(__file__).resolve().parents[1]
HAS_SAE_LENS = importlib.util.find_spec("sae_lens") is not None


@pytest.mark.skipif(not HAS_SAE_LENS, reason="SAELens is not installed here: the SAELens example is NOT tested "
                                             "(pip install -e '.[sae]'; CI's make test installs it)")
def test_sae_lens_example_runs_at_a_tiny_size(tmp_path) -> None:
    scores = tmp_path / "scores.json"
    subprocess.run([sys.executable, str(ROOT / "examples" / "sae_lens_example.py"), str(ROOT / "programs" / "animals.sbp"),
                    "--samples", "4096", "--batch-size", "256", "--architecture", "topk", "--k", "2",
                    "--json", str(scores)], check=True, cwd=tmp_path, capture_output=True)
    results = json.loads(scores.read_text())
    assert set(results) == {"circuit", "control"}
    for data in results.values():
        assert 0.0 <= data["mcc"] <= 1.0 + 1e-6 and 0.0 <= data["mmcs"] <= 1.0 + 1e-6
        assert data["l0"] <= 2.0 + 1e-6  # TopK k = 2 keeps at most two latents on


class TinySAE(nn.Module):
    """A standard ReLU SAE: z = ReLU(W_enc (x - b_dec) + b_enc), x_hat = W_dec z + b_dec."""

    def __init__(self, width: int, n_latents: int):
        super().__init__()
        self.encoder = nn.Linear(width, n_latents)
        self.decoder = nn.Linear(n_latents, width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latents = torch.relu(self.encoder(x - self.decoder.bias))
        return self.decoder(latents), latents


def test_a_minimal_torch_sae_recovers_the_gates_of_a_layer() -> None:
    """The SAELens path with a torch SAE: the dataset stream trains it, the
    layer's dictionary scores it (MMCS), and training must move it from a
    random decoder to the gates' write vectors."""
    circuit = compiler.compile_source(uand_source(), seed=0)
    truth = GroundTruth.of(layer_dictionary(circuit, 1))
    torch.manual_seed(0)
    sae = TinySAE(circuit.widths[1], 2 * len(truth.names))
    before = decoder_scores(sae.decoder.weight.T, truth.vectors)
    optimiser = torch.optim.Adam(sae.parameters(), lr=1e-2)
    stream = activation_stream(circuit, 1, Distribution("enriched"), batch_size=256, seed=0)
    for _, batch in zip(range(1000), stream):
        reconstruction, latents = sae(batch)
        sparsity = (latents * sae.decoder.weight.norm(dim=0)).sum(1).mean()  # L1 as SAELens' standard SAE
        loss = ((reconstruction - batch) ** 2).sum(1).mean() + 0.1 * sparsity
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = decoder_scores(sae.decoder.weight.T, truth.vectors)
    held_out = sample_inputs(circuit, 1024, Distribution("enriched"), np.random.default_rng(1))
    activations = torch.from_numpy(np.ascontiguousarray(circuit.activations(held_out)[1]))
    with torch.no_grad():
        reconstruction, latents = sae(activations)
    assert before["mmcs"] < 0.5 and after["mmcs"] > 0.9 and after["recovered"] > 0.8, (before, after)
    assert reconstruction_scores(activations, reconstruction, latents)["explained_variance"] > 0.8
    assert decoder_scores(truth.vectors, truth.vectors) == {"mmcs": pytest.approx(1.0), "recovered": 1.0}
