"""Where the copies of small neurons go: an affine design over large neurons.

The deep lowering (lower_deep.py) copies every small neuron onto `copies`
large neurons of its layer, each large neuron hosting about `hosts` small
neurons. A pool of n items gets `copies` blocks of p large neurons (p prime,
p >= n / hosts); item q with coordinates (alpha_q, beta_q) sits in block i at
neuron i*p + (alpha_q + i*beta_q) mod p. Two items with different coordinates
meet in at most one block (the affine lines of Z_p^2 meet at most once), so a
co-active item can corrupt at most one of another item's copies.

Items of one region (a connected part of the circuit, whose small neurons are
on together) must never meet, and a region should corrupt at most one copy of
any other item even though it has several items in the pool. So the pool is
split into sub-pools by rank: sub-pool j holds the j-th item of every region,
and each region has at most one item per sub-pool.
"""
from __future__ import annotations

import numpy as np


def next_prime(n: int) -> int:
    """The smallest prime >= n (n is at most a few hundred thousand here)."""
    n = max(n, 2)
    while any(n % d == 0 for d in range(2, int(n ** 0.5) + 1)):
        n += 1
    return n


def affine_block_design(n_items: int, copies: int, hosts: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Copies of n_items distinct items: ((n_items, copies) large-neuron indices
    in [0, n_large), n_large). Any two items share at most one large neuron;
    each large neuron hosts at most ceil(n_items / p) <= hosts items. Large
    neurons no item uses (small pools) are left out."""
    # p >= copies: blocks are distinct lines' points; p * p >= n_items: every item has its own line
    p = next_prime(max(-(-n_items // hosts), copies, int(np.ceil(np.sqrt(n_items)))))
    slot = rng.permutation(n_items)  # a random line per item: alpha = slot mod p, beta = slot div p < p
    alpha, beta = slot % p, slot // p
    block = np.arange(copies)
    placed = block[None, :] * p + (alpha[:, None] + block[None, :] * beta[:, None]) % p
    used, compact = np.unique(placed, return_inverse=True)
    return compact.reshape(placed.shape), used.size


def region_design(regions: np.ndarray, copies: int, hosts: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """regions: (n_items,) region of every item of one pool -> ((n_items,
    copies) large-neuron indices, n_large). Items of one region never share a
    large neuron, and a region meets any other item in at most one copy."""
    rank = np.zeros(regions.size, dtype=np.int64)
    seen: dict[int, int] = {}
    for item, region in enumerate(regions.tolist()):
        rank[item] = seen.get(region, 0)
        seen[region] = rank[item] + 1
    placed = np.zeros((regions.size, copies), dtype=np.int64)
    offset = 0
    for j in range(int(rank.max(initial=-1)) + 1):
        items = np.flatnonzero(rank == j)
        ids, n_large = affine_block_design(items.size, copies, hosts, rng)
        placed[items] = ids + offset
        offset += n_large
    return placed, offset
