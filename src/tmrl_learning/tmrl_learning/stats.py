"""95% bootstrap intervals for success rates, the one place the results' intervals come from.

A success rate measured on several seeds is pooled as the mean of the per-seed rates; its interval comes
from a hierarchical bootstrap: resample the seeds, then each chosen seed's episodes (a seed with k
successes in n episodes resamples as Binomial(n, k / n)).
"""

from __future__ import annotations

import numpy as np


def pooled_rate(successes: list[int], totals: list[int], rng: np.random.Generator,
                draws: int = 10_000) -> tuple[float, float, float]:
    """(mean of the per-seed rates, 2.5th, 97.5th percentile) for `successes[i]` of `totals[i]` per seed."""
    k, n = np.asarray(successes, float), np.asarray(totals, float)
    if len(k) == 0 or len(k) != len(n) or (n <= 0).any() or (k < 0).any() or (k > n).any():
        raise ValueError(f"successes {list(successes)} of totals {list(totals)}: need 0 <= k <= n, n > 0 per seed")
    seeds = rng.integers(len(k), size=(draws, len(k)))
    rates = rng.binomial(n[seeds].astype(int), (k / n)[seeds]) / n[seeds]
    means = rates.mean(1)
    return float((k / n).mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))


def pooled_fraction(rates: list[float], n: int, rng: np.random.Generator,
                    draws: int = 10_000) -> tuple[float, float, float]:
    """The same for per-seed rates each measured on `n` episodes (or starts)."""
    return pooled_rate([round(r * n) for r in rates], [n] * len(rates), rng, draws)


def bootstrap_mean(values: list[float], rng: np.random.Generator, draws: int = 2000) -> tuple[float, float, float]:
    """(mean, 95% interval) of independent values, resampled with replacement; nan when there are none."""
    if not values:
        return float("nan"), float("nan"), float("nan")
    v = np.asarray(values, float)
    means = v[rng.integers(len(v), size=(draws, len(v)))].mean(1)
    return float(v.mean()), float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5))
