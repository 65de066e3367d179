"""Embeddings cached by image content, so searching the same folders again skips the model.

One `.npz` file per model identity (checkpoint hash or backbone, plus preprocessing): the key of
an image is the sha256 of its bytes, so renamed or copied files hit the cache and an edited one
misses. Writes are atomic; two processes saving at once keep the later file (it is a cache).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from obstacles.io.outputs import atomic_output

KEY_DTYPE = "U64"  # a sha256 hex digest
FILE_KEY_CHARS = 16  # of the identity's digest, in the cache file name


def content_key(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class EmbeddingCache:
    """content sha256 -> (embedding, logit) for one identity; logit is NaN when the embedder has none."""

    def __init__(self, cache_dir: str | Path | None, identity: str):
        self.identity = identity
        digest = hashlib.sha256(identity.encode()).hexdigest()[:FILE_KEY_CHARS]
        self.path = Path(cache_dir) / f"{digest}.npz" if cache_dir else None
        self.rows: dict[str, tuple[np.ndarray, float]] = {}
        self.dirty = False
        if self.path is not None and self.path.is_file():
            self._load()

    def _load(self) -> None:
        with np.load(self.path, allow_pickle=False) as stored:
            if str(stored["identity"]) != self.identity:  # a digest collision or a foreign file
                return
            for key, vector, logit in zip(stored["keys"], stored["vectors"], stored["logits"]):
                self.rows[str(key)] = (vector, float(logit))

    def __len__(self) -> int:
        return len(self.rows)

    def get(self, key: str) -> tuple[np.ndarray, float] | None:
        return self.rows.get(key)

    def put(self, key: str, vector: np.ndarray, logit: float) -> None:
        self.rows[key] = (np.asarray(vector, np.float32), float(logit))
        self.dirty = True

    def save(self) -> None:
        """Write the whole table atomically, if anything was added (no-op without a cache_dir)."""
        if self.path is None or not self.dirty or not self.rows:
            return
        keys = np.array(list(self.rows), dtype=KEY_DTYPE)
        vectors = np.stack([vector for vector, _ in self.rows.values()])
        logits = np.array([logit for _, logit in self.rows.values()], np.float32)
        with atomic_output(self.path) as tmp:
            with tmp.open("wb") as handle:
                np.savez(handle, identity=np.array(self.identity), keys=keys, vectors=vectors, logits=logits)
        self.dirty = False
