"""Confident learning (Northcutt, Jiang and Chuang, 2021) for two classes, on out-of-sample
probabilities: which given labels are probably wrong, and in what order to look at them.

The rule is cleanlab's `find_label_issues(labels, pred_probs, filter_by="confident_learning",
return_indices_ranked_by="self_confidence")`, written out here because for two classes it is a
few lines (cleanlab and its dependencies would be a package for them):

- per class j, the threshold t_j is the mean predicted probability of j over the samples labelled j
  (how confident the models are, on average, about a sample that really is j);
- a sample labelled i is "confidently" in class j when p_j >= t_j; when both classes pass, the
  larger p_j counts; when neither does, the sample is not counted;
- a sample is a label issue when it is confidently in a class other than its given one (it sits
  off the diagonal of the confident joint) and the models' most probable class is not its given
  one (cleanlab drops issues whose given label equals the prediction: with a low threshold for
  one class, a pair can pass it and still be scored more likely its given class);
- issues are ranked by self-confidence, the probability of the given label, lowest first.

Per-class thresholds, not 0.5, make the rule robust to a model that is calibrated badly for one
class (an imbalanced set or a class that is hard to learn).

Two refinements, both from the confident-learning papers' own advice:

- **Several out-of-sample opinions.** The probabilities may average more than one opinion that
  never saw the labels (`ensemble_score`): cleanlab advises the mean of several models'
  out-of-sample predicted probabilities, because one model's blind spots then stop looking like
  label errors. One such opinion needs no classifier head: the given labels of a sample's look-alikes
  (`look_alike_score`, the k nearest neighbours in an embedding that never saw those labels; Bahri,
  Jiang and Gupta, "Deep k-NN for noisy labels", 2020). It is the team's old manual hunt made a
  rule: a label that its look-alikes contradict is suspect.
- **Only labels someone gave.** A sample whose label follows from another's by construction (a
  pair's reversed copy: an obstacle that disappears is no obstacle) cannot be a labelling mistake
  of its own. Such samples are not candidates: they neither set the thresholds nor get flagged,
  and they rank after every candidate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SIMILARITY_ROWS = 1024  # look-alikes: samples whose similarities to their pool are held at once


@dataclass(frozen=True)
class Issues:
    """Per sample: whether it is flagged, the class it is confidently in (-1: none), its
    self-confidence and rank (1 = the most likely wrong label, over all samples); the thresholds."""

    flagged: np.ndarray
    confident_class: np.ndarray
    self_confidence: np.ndarray
    rank: np.ndarray
    thresholds: np.ndarray


def class_probabilities(score: np.ndarray) -> np.ndarray:
    """[P(class 0), P(class 1)] per sample from the obstacle score P(class 1)."""
    score = np.asarray(score, dtype=np.float64)
    return np.stack([1.0 - score, score], axis=1)


def confident_thresholds(probs: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """t_j: the mean probability of class j over the samples labelled j."""
    classes = probs.shape[1]
    missing = [j for j in range(classes) if not np.any(labels == j)]
    if missing:
        raise ValueError(f"no sample is labelled class {missing}: confident learning needs both classes")
    return np.array([probs[labels == j, j].mean() for j in range(classes)])


def check_weights(weights: dict[str, float]) -> None:
    """Opinion weights: finite, at least 0, and not all 0."""
    if any(not np.isfinite(w) or w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValueError(f"opinion weights must be finite, at least 0, and not all 0: {weights}")


def ensemble_score(opinions: dict[str, np.ndarray], weights: dict[str, float], fallback: str) -> np.ndarray:
    """Per sample, the weighted mean of the out-of-sample obstacle scores it has (NaN: no opinion);
    where none with a positive weight is present, the `fallback` opinion alone (which every sample
    must have)."""
    if set(weights) != set(opinions):
        raise ValueError(f"weights for {sorted(weights)} but opinions {sorted(opinions)}")
    check_weights(weights)
    names = sorted(opinions)
    scores = np.stack([np.asarray(opinions[name], dtype=np.float64) for name in names])
    weight = np.array([weights[name] for name in names])[:, None] * ~np.isnan(scores)
    total = weight.sum(axis=0)
    mean = (weight * np.nan_to_num(scores)).sum(axis=0) / np.where(total > 0, total, 1.0)
    backup = np.asarray(opinions[fallback], dtype=np.float64)
    if np.isnan(backup).any():
        raise ValueError(f"the fallback opinion {fallback!r} is missing for {int(np.isnan(backup).sum())} sample(s)")
    return np.where(total > 0, mean, backup)


def look_alike_score(
    vectors: np.ndarray, labels: np.ndarray, pool: np.ndarray, source: np.ndarray, k: int
) -> np.ndarray:
    """Per sample, the share of its k look-alikes labelled 1: its nearest neighbours by cosine
    similarity among the samples of the same `pool` (an embedding space and the labels it never
    saw), leaving out itself and every sample of the same `source` (its own derived copies, whose
    labels follow from its own). NaN where a pool has no other source. Memory grows with
    `SIMILARITY_ROWS` x the pool's size, not the pool's size squared."""
    if k < 1:
        raise ValueError(f"look-alikes: k must be at least 1, got {k}")
    vectors = np.asarray(vectors, dtype=np.float32)
    unit = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    labels = np.asarray(labels, dtype=np.float64)
    _, source_code = np.unique(np.asarray(source), return_inverse=True)
    score = np.full(len(labels), np.nan)
    for members in (np.flatnonzero(np.asarray(pool) == value) for value in np.unique(pool)):
        nearest_k = min(k, len(members))
        for start in range(0, len(members), SIMILARITY_ROWS):
            rows = members[start : start + SIMILARITY_ROWS]
            similarity = unit[rows] @ unit[members].T
            similarity[source_code[rows][:, None] == source_code[members][None, :]] = -np.inf  # itself, its copies
            nearest = np.argpartition(-similarity, nearest_k - 1, axis=1)[:, :nearest_k]
            voting = np.isfinite(np.take_along_axis(similarity, nearest, axis=1))
            votes = voting.sum(axis=1)
            shares = (labels[members][nearest] * voting).sum(axis=1) / np.maximum(votes, 1)
            score[rows] = np.where(votes > 0, shares, np.nan)
    return score


def find_label_issues(score: np.ndarray, labels: np.ndarray, candidates: np.ndarray | None = None) -> Issues:
    """Confident learning on out-of-sample obstacle scores and given labels (0/1) (module
    docstring); `candidates` (default: every sample) marks the labels someone gave."""
    labels = np.asarray(labels, dtype=np.int64)
    candidates = np.ones(len(labels), bool) if candidates is None else np.asarray(candidates, dtype=bool)
    probs = class_probabilities(score)
    thresholds = confident_thresholds(probs[candidates], labels[candidates])
    above = probs >= thresholds
    confident = np.where(above.any(axis=1), np.argmax(np.where(above, probs, -np.inf), axis=1), -1)
    self_confidence = probs[np.arange(len(labels)), labels]
    predicted = np.argmax(probs, axis=1)
    flagged = candidates & (confident >= 0) & (confident != labels) & (predicted != labels)
    # candidates first; among them the flagged, then the least sure
    order = np.lexsort((np.arange(len(labels)), self_confidence, ~flagged, ~candidates))
    rank = np.empty(len(labels), dtype=np.int64)
    rank[order] = np.arange(1, len(labels) + 1)
    return Issues(flagged, confident, self_confidence, rank, thresholds)


def precision_recall_at_k(ranked_true: np.ndarray, k: int) -> tuple[float, float]:
    """Precision and recall of the top-k of a ranking, given whether each ranked item (best first)
    is a true issue: the reviewer's view (Northcutt et al. 2021: about half of flagged issues hold up)."""
    ranked_true = np.asarray(ranked_true, dtype=bool)
    total = int(ranked_true.sum())
    hits = int(ranked_true[:k].sum())
    return (hits / k if k else 0.0), (hits / total if total else 0.0)
