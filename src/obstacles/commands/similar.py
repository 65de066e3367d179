"""Similarity search: which images of a folder look like this one (or these ones)?

    python -m obstacles.commands.similar image=<file or folder> search_dir=<folder> out_dir=<folder> sim_thresh=0.9

The search and its outputs: `obstacles.curation.search`; the settings: conf/similar.yaml, the
embedder from its group (`embedder=checkpoint` with `ckpt_path=`, or `embedder=timm`).
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from obstacles.curation.search import Inputs, search
from obstacles.infra.config import entry_point
from obstacles.io.html import SheetLayout


def run(cfg: DictConfig) -> Path:
    result = search(
        cfg.image,
        cfg.search_dir,
        cfg.out_dir,
        instantiate(cfg.embedder, _partial_=True),  # called after the folders are checked; raises its own errors
        sim_thresh=cfg.sim_thresh,
        center=cfg.center,
        center_min_images=cfg.center_min_images,
        inputs=Inputs(cfg.panels, cfg.panel_size, cfg.pixel_threshold),
        cache_dir=cfg.cache_dir,
        batch_size=cfg.batch_size,
        sim_decimals=cfg.sim_decimals,
        sheet=SheetLayout(cfg.sheet.thumb_height, cfg.sheet.max_per_query),
    )
    for line in result.summary():
        print(f"[similar] {line}")
    return result.out


main = entry_point("similar", run)

if __name__ == "__main__":
    main()
