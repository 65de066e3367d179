"""eval: hold out a seeded, stratified, group-aware evaluation split of no_mask_train.

Frames of one burst (captured within `burst_gap_s` of each other) and an image's reversed copy
form one group, so near-identical frames never sit on both sides of the split.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

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
    """Boolean mask of eval samples: whole groups, about eval_fraction of every class.

    One seeded greedy pass (a stratified group hold-out): groups, in a seeded random order, join
    eval whenever that brings the eval count of every class closer to its share. A class the pass
    left out of eval then gets its smallest group, as long as train keeps some of that class.
    """
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"split.eval_fraction must be in (0, 1), got {eval_fraction}")
    group_ids, group_of = np.unique(groups, return_inverse=True)
    if len(group_ids) < 2:
        raise ValueError(f"only {len(group_ids)} capture group(s): cannot hold out an evaluation split by group")
    classes, class_of = np.unique(labels, return_inverse=True)
    counts = np.zeros((len(group_ids), len(classes)), dtype=np.int64)
    np.add.at(counts, (group_of, class_of), 1)
    totals = counts.sum(axis=0)
    target = eval_fraction * totals

    def distance(held: np.ndarray) -> float:
        return float(np.sum(((held - target) / totals) ** 2))

    order = np.random.default_rng(seed).permutation(len(group_ids))
    in_eval = np.zeros(len(group_ids), dtype=bool)
    held = np.zeros(len(classes), dtype=np.int64)
    for g in order:
        if distance(held + counts[g]) < distance(held):
            in_eval[g], held = True, held + counts[g]
    for c in np.flatnonzero(held == 0):
        options = [g for g in order if counts[g, c] and counts[g, c] < totals[c]]
        if options:
            g = min(options, key=lambda g: counts[g].sum())  # first of the smallest, in seeded order
            in_eval[g], held = True, held + counts[g]
    return in_eval[group_of]


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    source = site_dir(cfg) / "no_mask_train"
    files = [(label, name) for label in (NO_OBSTACLE, OBSTACLE) for name in sorted(os.listdir(source / label))]
    if not files:
        raise ValueError(f"{source} holds no images: nothing to split for {site}")
    labels = np.array([label == OBSTACLE for label, _ in files], dtype=np.int64)
    stems = [os.path.splitext(name)[0] for _, name in files]
    groups = burst_groups(stems, cfg.split.burst_gap_s, cfg.unmask.reversed_suffix)
    is_eval = assign_eval(labels, groups, cfg.split.eval_fraction, cfg.split.seed)
    outputs = {split: site_dir(cfg) / split for split in SPLITS}
    with atomic_dir(outputs["train"]) as train, atomic_dir(outputs["eval"]) as held_out:
        for folder in (train, held_out):
            for label in (NO_OBSTACLE, OBSTACLE):
                (folder / label).mkdir()
        rows = []
        for (label, name), group, evaluated in zip(files, groups, is_eval):  # plain strings: once per image
            split, folder = ("eval", held_out) if evaluated else ("train", train)
            link_or_copy(os.path.join(source, label, name), os.path.join(folder, label, name))
            rows.append((name, label, int(group), split))
    write_csv(site_dir(cfg) / SPLIT_TABLE, ("image", "label", "group", "split"), rows)
    n_eval = int(is_eval.sum())
    print(f"[eval {site}] {len(files) - n_eval} train, {n_eval} eval images in {len(np.unique(groups))} capture groups")
    return site_dir(cfg)


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
