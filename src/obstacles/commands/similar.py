"""Similarity search: which images of a folder look like this one (or these ones)?

    python -m obstacles.commands.similar image=<file or folder> search_dir=<folder> out_dir=<folder> sim_thresh=0.9

The search and its outputs: `obstacles.curation.search`; the settings: conf/similar.yaml
(`obstacles.curation.settings.SimilarSettings`), the embedder from its group (`embedder=checkpoint` with `ckpt_path=`, or `embedder=timm`).
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from obstacles.curation.search import Inputs, search
from obstacles.curation.settings import SimilarSettings
from obstacles.infra.config import entry_point
from obstacles.io.html import SheetLayout


def run(cfg: DictConfig) -> Path:
    settings: SimilarSettings = OmegaConf.to_object(cfg)
    result = search(
        settings.image,
        settings.search_dir,
        settings.out_dir,
        instantiate(settings.embedder, _partial_=True),  # called after the folders are checked; raises its own errors
        sim_thresh=settings.sim_thresh,
        center=settings.center,
        center_min_images=settings.center_min_images,
        inputs=Inputs(settings.panels, settings.panel_size, settings.pixel_threshold),
        cache_dir=settings.cache_dir,
        batch_size=settings.batch_size,
        sim_decimals=settings.sim_decimals,
        sheet=SheetLayout(settings.sheet.thumb_height, settings.sheet.max_per_query),
    )
    for line in result.summary():
        print(f"[similar] {line}")
    return result.out


main = entry_point("similar", run)

if __name__ == "__main__":
    main()
