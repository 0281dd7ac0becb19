"""Classification figures shared by the discriminator and the independent judge: ROC-AUC,
balanced accuracy, a per-group report, and the folds of grouped cross-validation."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from rlmusic.data.jazz_data import family_of
from rlmusic.errors import RLMusicError


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve as the Mann-Whitney statistic (ties count half); NaN with one class."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    if len(pos) == 0 or len(neg) == 0:
        return math.nan
    greater = (pos[:, None] > neg[None, :]).sum()
    ties = (pos[:, None] == neg[None, :]).sum()
    return float((greater + 0.5 * ties) / (len(pos) * len(neg)))


def balanced_accuracy(labels: np.ndarray, pred: np.ndarray) -> float:
    """Mean of the per-class recalls, so a set that is 69% "other" does not score 0.69 for
    calling everything "other" (that scores 0.5); NaN with one class."""
    if not (labels == 1).any() or not (labels == 0).any():
        return math.nan
    return float(0.5 * ((pred[labels == 1] == 1).mean() + (pred[labels == 0] == 0).mean()))


def classification_report(labels: np.ndarray, probs: np.ndarray, groups: list[str]) -> dict:
    pred = (probs >= 0.5).astype(int)
    by_group = {}
    for g in sorted(set(groups)):
        m = np.array([x == g for x in groups])
        by_group[g] = {"n": int(m.sum()), "accuracy": float((pred[m] == labels[m]).mean()),
                       "mean_p_jazz": float(probs[m].mean()), "label": int(labels[m][0])}
    return {
        "n": int(len(labels)), "accuracy": float((pred == labels).mean()) if len(labels) else math.nan,
        "balanced_accuracy": balanced_accuracy(labels, pred),
        "majority_rate": float(max(labels.mean(), 1 - labels.mean())) if len(labels) else math.nan,
        "roc_auc": roc_auc(labels, probs),
        "confusion": {"true_jazz_pred_jazz": int(((labels == 1) & (pred == 1)).sum()),
                      "true_jazz_pred_other": int(((labels == 1) & (pred == 0)).sum()),
                      "true_other_pred_jazz": int(((labels == 0) & (pred == 1)).sum()),
                      "true_other_pred_other": int(((labels == 0) & (pred == 0)).sum())},
        "by_style": by_group,
    }


def family_accuracy(by_style: dict) -> dict:
    """Per-style entries of ``report`` merged into groove families (``family_of``), weighted by pieces."""
    out: dict = {}
    for style, g in sorted(by_style.items()):
        f = out.setdefault(family_of(style), {"label": g["label"], "n": 0, "accuracy": 0.0})
        f["accuracy"] = (f["accuracy"] * f["n"] + g["accuracy"] * g["n"]) / (f["n"] + g["n"])
        f["n"] += g["n"]
    return out


def style_folds(groups: list[str], labels: np.ndarray, k: int, seed: int,
                unit: Callable[[str], str] = family_of) -> list[set[str]]:
    """k sets of held-out groove families (``family_of``: a style with its variants and other
    libraries' versions), each with about 1/k of the jazz and 1/k of the other families.
    ``unit`` names what is held out whole; the identity holds out single style files."""
    rng = np.random.default_rng(seed)
    folds: list[set[str]] = [set() for _ in range(k)]
    by_label = {lab: sorted({unit(g) for g, y in zip(groups, labels) if y == lab and g != "folk/bach"})
                for lab in (1, 0)}
    if min(len(f) for f in by_label.values()) < k:  # a fold would train or test without one class
        raise RLMusicError(f"grouped CV with {k} folds needs at least {k} groups of each label, found "
                           f"{len(by_label[1])} jazz and {len(by_label[0])} other; lower --cv, or put each "
                           f"style in its own subfolder of --jazz and --other (subfolders are the groups)")
    for lab in (1, 0):
        for i, s in enumerate(rng.permutation(by_label[lab])):
            folds[i % k].add(str(s))
    return folds
