"""Cosine similarity (1 - cosine distance) over embeddings: full score tables, top-k, near-duplicates.

Raw penultimate features of one fixed camera all point the same way (they are non-negative and
dominated by the scene every frame shares), so every pair of frames scores above 0.99 and a
threshold selects everything. Centring fixes that: `centered_similarity(..., "search_set")` takes
each embedding at unit length minus the searched set's mean unit embedding, so what all searched
images share no longer counts and unrelated frames spread around 0, while a re-encoded or
slightly brighter copy of an image stays close to it. Working on unit vectors first keeps a
feature-wide gain (a brighter copy) from moving an image away from itself.
"""

from __future__ import annotations

import numpy as np

TINY = 1e-12  # norms below this are all-zero feature vectors: similarity 0 to everything
CENTERS = ("none", "search_set")  # what is subtracted before the cosine: nothing, or the searched set's mean


def normalize(vectors: np.ndarray) -> np.ndarray:
    """Unit rows (float32); a zero row stays zero instead of becoming NaN."""
    vectors = np.asarray(vectors, np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, TINY)


def cosine_similarity(queries: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """(Q, N) similarities in [-1, 1] between already-normalised rows."""
    return np.clip(queries @ candidates.T, -1.0, 1.0)


def centered_similarity(queries: np.ndarray, candidates: np.ndarray, center: str) -> np.ndarray:
    """(Q, N) similarities, 1 - cosine distance of the embeddings after the `center` transform
    (module docstring): `none` compares them as they are, `search_set` after subtracting the
    candidates' mean unit embedding."""
    if center not in CENTERS:
        raise ValueError(f"center={center!r}: use one of {', '.join(CENTERS)}")
    queries, candidates = normalize(queries), normalize(candidates)
    if center == "search_set":
        mean = candidates.mean(axis=0)
        queries, candidates = normalize(queries - mean), normalize(candidates - mean)
    return cosine_similarity(queries, candidates)


def top_k(similarities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(indices, scores) of the k best per row, best first: argpartition, then sort only k."""
    k = min(k, similarities.shape[1])
    part = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
    scores = np.take_along_axis(similarities, part, axis=1)
    order = np.argsort(-scores, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(scores, order, axis=1)


def near_duplicate_pairs(
    unit: np.ndarray, threshold: float, block: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, similarity) of every pair i < j at or above threshold, and each row's nearest-neighbour
    similarity (itself excluded), computed in row blocks so memory stays at block x N."""
    first, second, scores = [], [], []
    nearest = np.full(len(unit), -1.0, np.float32)
    for start in range(0, len(unit), block):
        sims = cosine_similarity(unit[start : start + block], unit)
        own = np.arange(len(sims))
        sims[own, own + start] = -np.inf  # a row is not its own neighbour
        nearest[start : start + len(sims)] = sims.max(axis=1, initial=-1.0)
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols > rows + start
        first.append(rows[keep] + start)
        second.append(cols[keep])
        scores.append(sims[rows[keep], cols[keep]])
    if not first:
        return np.zeros(0, int), np.zeros(0, int), np.zeros(0, np.float32), nearest
    return np.concatenate(first), np.concatenate(second), np.concatenate(scores), nearest
