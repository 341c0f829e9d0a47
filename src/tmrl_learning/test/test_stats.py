"""The results' intervals: the hierarchical bootstrap over seeds, then episodes."""

import numpy as np
import pytest

from tmrl_learning.stats import bootstrap_mean, pooled_fraction, pooled_rate


def test_pooled_rate_is_the_mean_of_the_seeds_with_an_interval_that_shrinks_with_episodes():
    rng = np.random.default_rng(0)
    mean, low, high = pooled_rate([2, 4, 3], [25, 25, 25], rng)
    assert mean == pytest.approx(0.12) and 0.0 < low < mean < high < 0.3
    _, low_many, high_many = pooled_rate([80, 160, 120], [1000, 1000, 1000], rng)
    assert high_many - low_many < (high - low) / 2
    # 8 episodes cannot tell 0.0 from 0.1: one success in 8 on each of 3 seeds reaches well past 0.1
    assert pooled_rate([0, 0, 0], [8, 8, 8], rng) == (0.0, 0.0, 0.0)
    assert pooled_rate([1, 1, 1], [8, 8, 8], rng)[2] > 0.2


def test_seeds_that_disagree_widen_the_interval_beyond_the_episodes_alone():
    rng = np.random.default_rng(0)
    _, low_same, high_same = pooled_rate([50, 50, 50], [100, 100, 100], rng)
    _, low_split, high_split = pooled_rate([0, 50, 100], [100, 100, 100], rng)
    assert high_split - low_split > 3 * (high_same - low_same)


def test_fractions_and_plain_means():
    rng = np.random.default_rng(0)
    assert pooled_fraction([0.2, 0.4], 25, rng)[0] == pytest.approx(0.3)
    mean, low, high = bootstrap_mean([10.0, 20.0, 30.0], rng)
    assert mean == 20.0 and 10.0 <= low < 20.0 < high <= 30.0
    assert np.isnan(bootstrap_mean([], rng)[0])


@pytest.mark.parametrize("successes,totals", [([3], [2]), ([1, 2], [5]), ([], []), ([1], [0]), ([-1], [5])])
def test_impossible_counts_are_named(successes, totals):
    with pytest.raises(ValueError, match="need 0 <= k <= n"):
        pooled_rate(successes, totals, np.random.default_rng(0))
