"""eval: hold out a seeded, stratified, group-aware evaluation split of no_mask_train.

Frames of one burst (captured within `burst_gap_s` of each other) and an image's reversed copy
form one group, so near-identical frames never sit on both sides of the split.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from omegaconf import DictConfig
from sklearn.model_selection import StratifiedGroupKFold

from obstacles.config import entry_point
from obstacles.io.outputs import atomic_dir, link_or_copy, write_csv
from obstacles.io.recording import capture_time
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import site_dir, site_name

SPLITS = ("train", "eval")
SPLIT_TABLE = "split.csv"


def burst_groups(stems: list[str], gap_s: float, reversed_suffix: str) -> np.ndarray:
    """Group id per stem: consecutive capture times closer than gap_s share a group.

    A stem without a capture time is a group of its own (it cannot be placed in time).
    """
    originals = [s[: -len(reversed_suffix)] if s.endswith(reversed_suffix) else s for s in stems]
    times = {stem: capture_time(stem) for stem in set(originals)}
    timed = sorted((stem for stem, t in times.items() if t is not None), key=lambda stem: (times[stem], stem))
    group_of, group, previous = {}, -1, None
    for stem in timed:
        if previous is None or (times[stem] - previous).total_seconds() > gap_s:
            group += 1
        group_of[stem], previous = group, times[stem]
    for stem in sorted(stem for stem, t in times.items() if t is None):
        group += 1
        group_of[stem] = group
    return np.array([group_of[s] for s in originals], dtype=np.int64)


def assign_eval(labels: np.ndarray, groups: np.ndarray, eval_fraction: float, seed: int) -> np.ndarray:
    """Boolean mask of eval samples: one fold of a stratified group k-fold, k = 1 / eval_fraction."""
    n_groups = len(np.unique(groups))
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"split.eval_fraction must be in (0, 1), got {eval_fraction}")
    if n_groups < 2:
        raise ValueError(f"only {n_groups} capture group(s): cannot hold out an evaluation split by group")
    n_splits = min(max(2, round(1.0 / eval_fraction)), n_groups)
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    candidates = [index for _, index in folds.split(np.zeros(len(labels)), labels, groups)]
    # With few groups a fold can miss a class: take the fold whose class mix is closest to the site's.
    overall = labels.mean()
    eval_index = min(candidates, key=lambda index: (len(np.unique(labels[index])) < 2, abs(labels[index].mean() - overall)))
    is_eval = np.zeros(len(labels), dtype=bool)
    is_eval[eval_index] = True
    return is_eval


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    source = site_dir(cfg) / "no_mask_train"
    files = [(label, path) for label in (NO_OBSTACLE, OBSTACLE) for path in sorted((source / label).iterdir())]
    if not files:
        raise ValueError(f"{source} holds no images: nothing to split for {site}")
    labels = np.array([label == OBSTACLE for label, _ in files], dtype=np.int64)
    groups = burst_groups([p.stem for _, p in files], cfg.split.burst_gap_s, cfg.unmask.reversed_suffix)
    is_eval = assign_eval(labels, groups, cfg.split.eval_fraction, cfg.split.seed)
    outputs = {split: site_dir(cfg) / split for split in SPLITS}
    with atomic_dir(outputs["train"]) as train, atomic_dir(outputs["eval"]) as held_out:
        for folder in (train, held_out):
            for label in (NO_OBSTACLE, OBSTACLE):
                (folder / label).mkdir()
        rows = []
        for (label, path), group, evaluated in zip(files, groups, is_eval):
            split, folder = ("eval", held_out) if evaluated else ("train", train)
            link_or_copy(path, folder / label / path.name)
            rows.append((path.name, label, int(group), split))
    write_csv(site_dir(cfg) / SPLIT_TABLE, ("image", "label", "group", "split"), rows)
    n_eval = int(is_eval.sum())
    print(f"[eval {site}] {len(files) - n_eval} train, {n_eval} eval images in {len(np.unique(groups))} capture groups")
    return site_dir(cfg)


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
