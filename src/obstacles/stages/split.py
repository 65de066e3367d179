"""split: no_mask_train's pairs into train, val and eval: seeded, stratified, group-aware; a
manifest (`split.csv`: image, path, sha256, label, group, split, deployed_score), no image copied.

`eval` (about `split.eval_fraction` of every class) is held out first, then `val` (about
`split.val_fraction` of what is left) from the rest; train keeps the remainder. Frames of one burst
(captured within `burst_gap_s` of each other) and an image's reversed copy form one group, so
near-identical frames never sit on both sides of a split (the rule: `obstacles.lineage.splitting`).
`val_fraction: 0` makes a two-way split: training then validates on eval, and evaluation says its
numbers are optimistic.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.io.manifests import read_rows
from obstacles.io.outputs import write_csv
from obstacles.lineage.names import (
    CLASSES,
    DEPLOYED_SCORE,
    EVAL,
    NO_MASK_TRAIN_DIR,
    PAIRS_COLUMNS,
    PAIRS_TABLE,
    SPLIT_COLUMNS,
    SPLIT_TABLE,
    SPLITS,
    TRAIN,
)
from obstacles.lineage.settings import site_dir, site_name
from obstacles.lineage.splitting import assign_splits, burst_groups, check_both_classes


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    pairs_table = site_dir(cfg) / NO_MASK_TRAIN_DIR / PAIRS_TABLE
    pairs = sorted(
        (row for _, row in read_rows(pairs_table, PAIRS_COLUMNS)),
        key=lambda row: (CLASSES.index(row["label"]), row["image"]),
    )
    if not pairs:
        raise ValueError(f"{pairs_table} lists no pairs: nothing to split for {site}")
    labels = np.array([CLASSES.index(row["label"]) for row in pairs], dtype=np.int64)
    stems = [os.path.splitext(row["image"])[0] for row in pairs]
    groups = burst_groups(stems, cfg.split.burst_gap_s, cfg.no_mask_train.reversed_suffix)
    val_fraction = float(cfg.split.val_fraction)
    names = assign_splits(labels, groups, float(cfg.split.eval_fraction), val_fraction, cfg.split.seed)
    check_both_classes(site, labels, groups, names, SPLITS if val_fraction > 0 else (TRAIN, EVAL))
    rows = [
        (row["image"], row["path"], row["sha256"], row["label"], int(group), split, row[DEPLOYED_SCORE])
        for row, group, split in zip(pairs, groups, names)
    ]
    target = write_csv(site_dir(cfg) / SPLIT_TABLE, SPLIT_COLUMNS, rows)
    sizes = ", ".join(f"{int(np.sum(names == split))} {split}" for split in SPLITS)
    print(f"[split {site}] {sizes} images in {len(np.unique(groups))} capture groups")
    return target


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
