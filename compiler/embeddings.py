"""Input embeddings: m feature directions in d dimensions, and how incoherent they are.

The Welch bound  mu >= sqrt((m - d) / (d (m - 1)))  limits the largest |<e_i, e_j>|
of any m unit vectors in R^d; random sign vectors sit near 2 sqrt(ln m / d);
alternating projection (Tropp, Dhillon, Heath, Strohmer 2005) moves toward the bound.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp


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


def tight_frame_embedding(m: int, d: int, rng: np.random.Generator) -> np.ndarray:
    """(d, m) float32 unit columns close to a tight frame (E E^T = (m / d) I):
    d rows of a random orthogonal matrix, columns normalised. Against random
    signs it halves to thirds the leak of a neuron at 1.5 to 2 features per
    dimension: a tight frame spreads the energy (m / d) |v|^2 of any read v
    evenly, so a neuron reading k features leaks k (m - d) / (d (m - k)) per
    other feature on average, where random signs leak about k / d."""
    gaussian = rng.standard_normal((m, m))
    orthogonal, upper = np.linalg.qr(gaussian)
    orthogonal *= np.sign(np.diag(upper))[None, :]  # the Haar measure: QR's signs made canonical
    frame = orthogonal[:d]
    return (frame / np.linalg.norm(frame, axis=0, keepdims=True)).astype(np.float32)


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


def zero_forced_rows(feature_weights: sp.csr_matrix, embedding: np.ndarray) -> np.ndarray:
    """(n, d) code-space weights that read each row's own features exactly.

    feature_weights: (n, m) CSR, row j reads the features S_j with weights w_j;
    embedding: (d, m) unit columns e_f. Reading the code through E^T (v = E w)
    gives feature f in S_j the weight w_f + sum_{g in S_j, g != f} w_g <e_g, e_f>:
    every neuron then mis-weighs its own features by a fixed amount, a
    systematic error of exactly the gates it hosts. The least-norm v with
    <v, e_f> = w_f for every f in S_j, v = E_S (E_S^T E_S)^-1 w_S, leaves only
    the leak of the features outside S_j. Needs |S_j| <= d and E_S of full rank
    (least squares otherwise)."""
    embedding = embedding.astype(np.float64)
    rows = np.zeros((feature_weights.shape[0], embedding.shape[0]))
    for j in range(feature_weights.shape[0]):
        start, end = feature_weights.indptr[j], feature_weights.indptr[j + 1]
        own = embedding[:, feature_weights.indices[start:end]]
        solution = np.linalg.lstsq(own.T @ own, feature_weights.data[start:end].astype(np.float64), rcond=None)[0]
        rows[j] = own @ solution
    return rows.astype(np.float32)
