"""Input embeddings: m feature directions in d dimensions, and how incoherent they are.

The Welch bound  mu >= sqrt((m - d) / (d (m - 1)))  limits the largest |<e_i, e_j>|
of any m unit vectors in R^d; random sign vectors sit near 2 sqrt(ln m / d);
alternating projection (Tropp, Dhillon, Heath, Strohmer 2005) moves toward the bound.
"""
from __future__ import annotations

import numpy as np


def welch_bound(m: int, d: int) -> float:
    """The smallest possible coherence of m unit vectors in R^d (0 when m <= d)."""
    return 0.0 if m <= d else float(np.sqrt((m - d) / (d * (m - 1))))


def coherence(embedding: np.ndarray) -> float:
    """Largest |<e_i, e_j>|, i != j, over the unit columns of embedding (d, m)."""
    gram = embedding.T.astype(np.float64) @ embedding.astype(np.float64)
    np.fill_diagonal(gram, 0.0)
    return float(np.abs(gram).max(initial=0.0))


def random_sign_embedding(m: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """(d, m) float32 columns of random signs / sqrt(d): sign-symmetric, so that
    interference between features has mean zero."""
    return (rng.choice(np.array([-1.0, 1.0]), size=(d, m)) / np.sqrt(d)).astype(np.float32)


def low_coherence_embedding(m: int, d: int, rng: np.random.Generator, iterations: int = 60) -> np.ndarray:
    """(d, m) float32 unit columns, by alternating projection of the Gram matrix:
    clip off-diagonal entries to a shrinking target, then project back to rank d."""
    x = random_sign_embedding(m, d, rng).astype(np.float64)
    target = welch_bound(m, d)
    for step in range(iterations):
        gram = x.T @ x
        mu = max(target, coherence(x) * 0.9) if step < iterations - 1 else target
        np.clip(gram, -mu, mu, out=gram)
        np.fill_diagonal(gram, 1.0)
        values, vectors = np.linalg.eigh(gram)
        top = slice(m - d, m)
        x = (vectors[:, top] * np.sqrt(np.maximum(values[top], 0.0))).T
        x /= np.linalg.norm(x, axis=0, keepdims=True)
    return x.astype(np.float32)
