"""Distances between two sets of pieces, on their whole metric vectors.

Per-metric overlap areas say where two sets differ; these say by how much, all metrics at
once, so a column of samples can be ranked against real music by one number:

* :func:`frechet_distance`: the Fréchet distance between Gaussians fitted to the two sets
  (FID's formula), on metrics standardised by the reference's mean and spread. It is biased
  upward for small sets (the covariance estimates are noisy), so compare columns of the same
  size only; 64 pieces on ~30 metrics is a coarse figure.
* :func:`two_sample_auc`: a classifier two-sample test (Lopez-Paz and Oquab, 2017): a small
  classifier is trained, with stratified cross-validation, to tell the set's pieces from the
  reference's; its out-of-fold ROC-AUC is 0.5 when they cannot be told apart and 1.0 when
  every piece gives itself away.
* :func:`separating_metrics`: which metrics give the set away on their own, each one's ROC-AUC
  (in whichever direction it separates): what the two-sample test's figure is made of.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def metric_matrix(per_piece: dict[str, list[float]], names: list[str]) -> np.ndarray:
    """(pieces, metrics) float array of one column's per-piece values, NaN kept."""
    return np.array([per_piece[n] for n in names], float).T.reshape(-1, len(names))


def standardise(x: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sets scaled by the reference's per-metric median (for NaNs), mean and standard
    deviation; metrics that are constant (or NaN throughout) in the reference are dropped."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN metric: its median is NaN
        med = np.nan_to_num(np.nanmedian(reference, axis=0)) if len(reference) else np.zeros(x.shape[1])
    x, reference = np.where(np.isnan(x), med, x), np.where(np.isnan(reference), med, reference)
    mu, sd = reference.mean(0), reference.std(0)
    keep = sd > 1e-12
    return (x[:, keep] - mu[keep]) / sd[keep], (reference[:, keep] - mu[keep]) / sd[keep]


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)) of two (n, d) samples; NaN with
    fewer than two rows on either side."""
    if len(a) < 2 or len(b) < 2:
        return math.nan
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = np.atleast_2d(np.cov(a, rowvar=False)), np.atleast_2d(np.cov(b, rowvar=False))
    # Tr((S_a S_b)^(1/2)) = Tr((A S_b A)^(1/2)) with A = S_a^(1/2): a symmetric PSD matrix, whose
    # eigenvalues stay real and non-negative even when the covariances are singular (few pieces).
    w, v = np.linalg.eigh(cov_a)
    half = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    trace_root = np.sqrt(np.clip(np.linalg.eigvalsh(half @ cov_b @ half), 0, None)).sum()
    return float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a) + np.trace(cov_b) - 2 * trace_root)


def two_sample_auc(a: np.ndarray, b: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    """Out-of-fold ROC-AUC of a logistic regression telling rows of ``a`` (label 1) from rows of
    ``b`` (label 0), classes weighted equally; fewer folds when a set has fewer rows than
    ``folds``, NaN when one has fewer than two."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = min(folds, len(a), len(b))
    if folds < 2:
        return math.nan
    x = np.vstack([a, b])
    y = np.r_[np.ones(len(a)), np.zeros(len(b))]
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, class_weight="balanced", max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    prob = cross_val_predict(model, x, y, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, prob))


def separating_metrics(column: dict[str, list[float]], reference: dict[str, list[float]],
                       names: list[str]) -> list[tuple[str, float]]:
    """(metric, AUC) for each of ``names`` defined on at least two pieces of both sets, most
    separating first: the ROC-AUC of the metric's value alone telling the column's pieces from
    the reference's, max(AUC, 1 - AUC) so that 0.5 is no difference and 1.0 full separation
    whichever set lies higher (ties count a half, as Mann and Whitney count them)."""
    from sklearn.metrics import roc_auc_score

    out = []
    for name in names:
        a, b = np.asarray(column[name], float), np.asarray(reference[name], float)
        a, b = a[~np.isnan(a)], b[~np.isnan(b)]
        if len(a) < 2 or len(b) < 2:
            continue
        auc = float(roc_auc_score(np.r_[np.ones(len(a)), np.zeros(len(b))], np.r_[a, b]))
        out.append((name, max(auc, 1.0 - auc)))
    return sorted(out, key=lambda t: -t[1])


def set_distances(column: dict[str, list[float]], reference: dict[str, list[float]], names: list[str]) -> dict:
    """Fréchet distance and two-sample AUC of one column against the reference on ``names``."""
    a, b = standardise(metric_matrix(column, names), metric_matrix(reference, names))
    if a.shape[1] == 0:  # every metric is constant in the reference: nothing to measure by
        return {"frechet": math.nan, "two_sample_auc": math.nan}
    return {"frechet": frechet_distance(a, b), "two_sample_auc": two_sample_auc(a, b)}
