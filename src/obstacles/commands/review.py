"""A static review page for one site's triage: `python -m obstacles.commands.review site=<id>` (conf/review.yaml).

The page and where its labels start from: `obstacles.curation.review`; the reviewer's export is
`labels/<site>.csv`, read by the mask_train stage.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.config import entry_point
from obstacles.curation.review import PageSettings, write_review_page
from obstacles.lineage import SRC_DIR, TriageCutoffs
from obstacles.stages.common import site_dir, site_name


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    result = write_review_page(
        site,
        site_dir(cfg) / SRC_DIR,
        cfg.out_dir,
        labels_dir=cfg.paths.labels_dir,
        root_dir=cfg.paths.root_dir,
        reversed_default_label=cfg.mask_train.reversed_default_label,
        cutoffs=TriageCutoffs(cfg.src.obstacle_above, cfg.src.no_obstacle_at_most),
        settings=PageSettings(
            panels=cfg.recording.panels,
            shortcuts=OmegaConf.to_container(cfg.shortcuts),
            advance_on_label=cfg.advance_on_label,
            view_height=cfg.view_height,
            thumb_height=cfg.thumb_height,
        ),
    )
    print("\n".join(f"[review {site}] {line}" for line in result.summary()))
    return result.page


main = entry_point("review", run)

if __name__ == "__main__":
    main()
