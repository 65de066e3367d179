"""diff_metrics: the changed-pixel fraction of every pair, with the site's pixel threshold.

Stored once per image, so the weight curve can be swept without touching an image again.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.images import read_pair
from obstacles.io.outputs import write_csv
from obstacles.io.parallel import parallel_map
from obstacles.labels import NO_OBSTACLE, OBSTACLE
from obstacles.stages.common import site_dir, site_name
from obstacles.weights import diff_metric

DIFF_TABLE = "diff_metrics.csv"
DIFF_HEADER = ("image", "label", "diff_metric", "pixel_threshold")


def _measure(job: tuple[Path, float]) -> float:
    path, threshold = job
    return diff_metric(*read_pair(path, rgb=False), threshold)  # max over channels: order is irrelevant


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    threshold = cfg.site.pixel_threshold
    source = site_dir(cfg) / "no_mask_train"
    files = [(label, path) for label in (NO_OBSTACLE, OBSTACLE) for path in sorted((source / label).iterdir())]
    values = parallel_map(_measure, [(p, threshold) for _, p in files], workers=cfg.workers, desc=f"diff {site}")
    rows = [(path.name, label, f"{value:.8f}", threshold) for (label, path), value in zip(files, values)]
    target = write_csv(site_dir(cfg) / DIFF_TABLE, DIFF_HEADER, rows)
    print(f"[diff_metrics {site}] {len(rows)} pairs at pixel threshold {threshold}")
    return target


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
