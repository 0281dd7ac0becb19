"""Set distances: the Fréchet distance by hand, the two-sample test on same and different sets."""

import math

import numpy as np
import pytest

from rlmusic.evaluate.distance import (
    frechet_distance,
    separating_metrics,
    set_distances,
    standardise,
    two_sample_auc,
)


def test_frechet_distance_by_hand_in_two_dimensions():
    # a: points (0,0) (2,0) (0,2) (2,2): mean (1,1), covariance diag(4/3, 4/3)
    # b: points (3,1) (5,1) (3,5) (5,5): mean (4,3), covariance diag(4/3, 16/3)
    a = np.array([[0, 0], [2, 0], [0, 2], [2, 2]], float)
    b = np.array([[3, 1], [5, 1], [3, 5], [5, 5]], float)
    # diagonal covariances: ||mu_a - mu_b||^2 + sum_i (sigma_a,i - sigma_b,i)^2 = 9 + 4 + 0 + (2/sqrt3 - 4/sqrt3)^2
    expected = 9 + 4 + (2 / math.sqrt(3) - 4 / math.sqrt(3)) ** 2
    assert frechet_distance(a, b) == pytest.approx(expected)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    assert frechet_distance(b, a) == pytest.approx(expected)
    assert math.isnan(frechet_distance(a[:1], b))


def test_two_sample_auc_same_set_near_half_different_sets_near_one():
    rng = np.random.default_rng(0)
    one = rng.normal(0, 1, (400, 5))
    assert abs(two_sample_auc(one[:200], one[200:]) - 0.5) < 0.08
    other = rng.normal(0, 1, (200, 5)) + np.array([2.0, 0, 0, 0, 0])
    assert two_sample_auc(one[:200], other) > 0.9
    assert math.isnan(two_sample_auc(one[:1], other))


def test_standardise_by_the_reference_and_fill_nan():
    ref = np.array([[0.0, 1.0, np.nan], [2.0, 1.0, np.nan], [4.0, 1.0, np.nan]])
    x = np.array([[2.0, 5.0, 1.0], [np.nan, 1.0, 2.0]])
    xs, rs = standardise(x, ref)
    assert xs.shape == (2, 1) and rs.shape == (3, 1)  # constant and all-NaN metrics dropped
    sd = np.std([0.0, 2.0, 4.0])
    assert xs[:, 0].tolist() == pytest.approx([0.0, 0.0])  # NaN filled with the reference median, 2
    assert rs[:, 0].tolist() == pytest.approx([-2 / sd, 0, 2 / sd])


def test_set_distances_of_metric_columns():
    rng = np.random.default_rng(1)
    ref = {"a": rng.normal(0, 1, 200).tolist(), "b": rng.normal(5, 2, 200).tolist()}
    near = {"a": rng.normal(0, 1, 64).tolist(), "b": rng.normal(5, 2, 64).tolist()}
    far = {"a": rng.normal(3, 1, 64).tolist(), "b": rng.normal(5, 2, 64).tolist()}
    d_near, d_far = set_distances(near, ref, ["a", "b"]), set_distances(far, ref, ["a", "b"])
    assert d_near["frechet"] < 0.3 < 8 < d_far["frechet"]
    assert d_near["two_sample_auc"] < 0.65 and d_far["two_sample_auc"] > 0.95


def test_separating_metrics_by_hand():
    """AUC of one metric alone, counted by hand over the 3 x 3 pairs: a = [1, 2, 3] against
    b = [0, 0, 2]: 1 beats two, 2 beats two and ties one (a half), 3 beats three: 7.5 / 9.
    Reversed sets separate as well; equal sets not at all; a metric with one defined value on a
    side is left out."""
    column = {"x": [1, 2, 3], "lower": [0, 0, 2], "same": [5, 6, 7], "split": [10, 11, 12],
              "nan": [1.0, float("nan"), float("nan")]}
    reference = {"x": [0, 0, 2], "lower": [1, 2, 3], "same": [5, 6, 7], "split": [0, 1, 2], "nan": [1, 2, 3]}
    got = dict(separating_metrics(column, reference, list(column)))
    assert got == pytest.approx({"split": 1.0, "x": 7.5 / 9, "lower": 7.5 / 9, "same": 0.5})
    assert [n for n, _ in separating_metrics(column, reference, list(column))][0] == "split"
