"""diff_metrics: the changed-pixel fraction of every pair, with the site's pixel threshold.

Read from the diff histograms no_mask_train stored while it had the pixels decoded, so a new
threshold costs no decode; stored once per image, so the weight curve can be swept without
touching an image again.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.io.histograms import read_histograms
from obstacles.io.outputs import write_csv
from obstacles.lineage.names import DIFF_COLUMNS, DIFF_TABLE, HISTOGRAMS_NAME, NO_MASK_TRAIN_DIR
from obstacles.lineage.settings import site_dir, site_name
from obstacles.weights.curve import changed_fraction


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    threshold = cfg.site.pixel_threshold
    table = read_histograms(site_dir(cfg) / NO_MASK_TRAIN_DIR / HISTOGRAMS_NAME)
    values = changed_fraction(table["counts"], threshold)  # rows come sorted by label, then image
    rows = [
        (str(image), str(label), f"{value:.8f}", threshold)
        for image, label, value in zip(table["image"], table["label"], values)
    ]
    target = write_csv(site_dir(cfg) / DIFF_TABLE, DIFF_COLUMNS, rows)
    print(f"[diff_metrics {site}] {len(rows)} pairs at pixel threshold {threshold}")
    return target


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
