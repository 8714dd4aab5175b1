"""SAELens on a compiled circuit's layer (needs the optional extra superpose[sae]).

    train_sae("standard" or "topk", stream, d_in, d_sae, samples, ...)   SAELens' SAETrainer
    evaluate(sae, circuit, truth, inputs)                                 SAELens' evals + MMCS
    linear_control(truth, firing, ...)                                    SAELens' own linear data
    run_experiment(circuit, layer, architecture, ...)                     all of it, circuit and control

SAELens scores SAEs against ground truth that is linear, hidden = features @
vectors; here the hidden activations are a real ReLU network's, the true
features its dictionary (runtime.dictionary), and the same evals apply:
mean correlation coefficient (Hungarian matching of decoder rows to true
feature vectors), uniqueness, classification of feature firing by latents.
The control is SAELens' FeatureDictionary and ActivationGenerator of the same
number of features, width and firing rates, scored by its
eval_sae_on_synthetic_data.
"""
from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from sae_lens.config import LoggingConfig, SAETrainerConfig
from sae_lens.saes.standard_sae import StandardTrainingSAE, StandardTrainingSAEConfig
from sae_lens.saes.topk_sae import TopKTrainingSAE, TopKTrainingSAEConfig
from sae_lens.synthetic import ActivationGenerator, FeatureDictionary
from sae_lens.synthetic.evals import (compute_classification_metrics, eval_sae_on_synthetic_data,
                                      feature_uniqueness, mean_correlation_coefficient)
from sae_lens.training.sae_trainer import SAETrainer

from superpose.network import CompiledCircuit
from superpose.runtime.datasets import Distribution, sample_inputs
from superpose.runtime.dictionary import layer_dictionary
from superpose.runtime.sae_data import GroundTruth, activation_stream, decoder_scores, reconstruction_scores

ARCHITECTURES = ("standard", "topk")


def make_sae(architecture: str, d_in: int, d_sae: int, l1_coefficient: float = 1.0, k: int = 1):
    """A SAELens training SAE: "standard" (ReLU, L1 penalty) or "topk" (k latents on)."""
    if architecture == "standard":
        return StandardTrainingSAE(StandardTrainingSAEConfig(d_in=d_in, d_sae=d_sae, l1_coefficient=l1_coefficient))
    if architecture == "topk":
        return TopKTrainingSAE(TopKTrainingSAEConfig(d_in=d_in, d_sae=d_sae, k=k))
    raise ValueError(f"unknown SAE architecture {architecture!r} (choose {', '.join(ARCHITECTURES)})")


def train_sae(sae, stream: Iterator[torch.Tensor], samples: int, batch_size: int, lr: float = 3e-4):
    """Train `sae` in place with SAELens' SAETrainer on `samples` rows of `stream`
    (batches of batch_size); no wandb, no checkpoints. Returns the sae."""
    config = SAETrainerConfig(total_training_samples=samples, train_batch_size_samples=batch_size, lr=lr, lr_end=lr,
                              device="cpu", logger=LoggingConfig(log_to_wandb=False))
    SAETrainer(cfg=config, sae=sae, data_provider=stream).fit()
    return sae


@torch.no_grad()
def evaluate(sae, activations: torch.Tensor, truth: GroundTruth, feature_acts: torch.Tensor) -> dict[str, float]:
    """SAELens' evals (MCC, uniqueness, classification F1) and superpose's
    (MMCS, recovered share, explained variance, L0, dead latents) of `sae` on
    held-out activations (batch, width) whose true feature firing is
    feature_acts (batch, n_features)."""
    sae.eval()
    latents = sae.encode(activations)
    reconstruction = sae.decode(latents)
    decoder = sae.W_dec.detach()
    scores = {"mcc": mean_correlation_coefficient(decoder, truth.vectors),
              "uniqueness": feature_uniqueness(decoder, truth.vectors),
              "f1": compute_classification_metrics(latents, feature_acts, decoder, truth.vectors).f1_score}
    return scores | decoder_scores(decoder, truth.vectors) | reconstruction_scores(activations, reconstruction, latents)


def linear_control(truth: GroundTruth, firing: np.ndarray, seed: int = 0) -> tuple[FeatureDictionary,
                                                                                   ActivationGenerator]:
    """SAELens' linear synthetic data of the same size: as many random feature
    vectors as `truth` has, in the same width, each firing with the rate it
    has in the circuit's data (firing: (n_features,) probabilities), magnitude 1."""
    n_features, width = truth.vectors.shape
    features = FeatureDictionary(n_features, width, seed=seed)
    generator = ActivationGenerator(n_features, torch.from_numpy(np.clip(firing, 1e-6, 1.0).astype(np.float32)))
    return features, generator


def control_stream(features: FeatureDictionary, generator: ActivationGenerator,
                   batch_size: int) -> Iterator[torch.Tensor]:
    """Endless batches (batch_size, width) of the linear control's hidden activations."""
    while True:
        with torch.no_grad():  # closed before each yield: a generator must not hold grad mode off for its caller
            batch = features(generator.sample(batch_size))
        yield batch


def evaluate_control(sae, features: FeatureDictionary, generator: ActivationGenerator, samples: int) -> dict:
    """SAELens' eval_sae_on_synthetic_data on the control, plus MMCS."""
    result = eval_sae_on_synthetic_data(sae, features, generator, num_samples=samples)
    return {"mcc": result.mcc, "uniqueness": result.uniqueness, "f1": result.classification.f1_score,
            **decoder_scores(sae.W_dec.detach(), features.feature_vectors.detach()), "explained_variance": result.explained_variance, "l0": result.sae_l0,
            "dead_latents": result.dead_latents}


def run_experiment(circuit: CompiledCircuit, layer: int, architecture: str, kinds: tuple[str, ...] = ("gate",),
                   distribution: Distribution = Distribution(), d_sae: int | None = None, samples: int = 1 << 20,
                   batch_size: int = 1024, eval_samples: int = 8192, l1_coefficient: float = 1.0, k: int | None = None,
                   lr: float = 3e-4, control: bool = True, seed: int = 0) -> dict[str, dict]:
    """Train an SAE of `architecture` on h_layer of `circuit` (inputs from
    `distribution`), score it against the layer's dictionary features of
    `kinds`; with `control`, the same SAE on SAELens' linear data of the same
    size and firing rates. d_sae defaults to the number of true features, a
    TopK SAE's k to the mean number of true features on (at least 1).
    Returns {"circuit": scores, "control": scores}."""
    truth = GroundTruth.of(layer_dictionary(circuit, layer), kinds)
    held_out = sample_inputs(circuit, eval_samples, distribution, np.random.default_rng([seed, 1]))
    activations = torch.from_numpy(np.ascontiguousarray(circuit.activations(held_out)[layer]))
    feature_acts = truth.activations(circuit, held_out)
    width, n_latents = activations.shape[1], d_sae or len(truth.names)
    k = k or max(1, round(float(feature_acts.sum(dim=1).mean())))
    torch.manual_seed(seed)
    sae = make_sae(architecture, width, n_latents, l1_coefficient, k)
    train_sae(sae, activation_stream(circuit, layer, distribution, batch_size, seed), samples, batch_size, lr)
    facts = {"features": len(truth.names), "width": width, "true_l0": float(feature_acts.sum(dim=1).mean())}
    if architecture == "topk":
        facts["k"] = k
    results = {"circuit": evaluate(sae, activations, truth, feature_acts) | facts}
    if control:
        features, generator = linear_control(truth, feature_acts.mean(dim=0).numpy(), seed)
        torch.manual_seed(seed)
        sae = make_sae(architecture, width, n_latents, l1_coefficient, k)
        train_sae(sae, control_stream(features, generator, batch_size), samples, batch_size, lr)
        results["control"] = evaluate_control(sae, features, generator, eval_samples) | facts
    return results
