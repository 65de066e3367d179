"""A static review page for one site's triage: `python -m obstacles.commands.review site=<id>` (conf/review.yaml).

The page and where its labels start from: `obstacles.curation.review`; the reviewer's export is
`labels/<site>.csv`, read by the mask_train stage. The settings: `obstacles.curation.settings.ReviewSettings`.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.curation.review import PageSettings, settings_valuer, write_review_page
from obstacles.curation.settings import ReviewSettings
from obstacles.infra.config import entry_point
from obstacles.lineage.names import SRC_DIR
from obstacles.lineage.settings import site_dir, site_name
from obstacles.lineage.triage import TriageCutoffs


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)  # the pipeline's own check: a site must be chosen
    src = site_dir(cfg, site) / SRC_DIR
    settings: ReviewSettings = OmegaConf.to_object(cfg)
    result = write_review_page(
        site,
        src,
        settings.out_dir,
        labels_dir=settings.paths["labels_dir"],
        root_dir=settings.paths["root_dir"],
        reversed_default_label=settings.mask_train.reversed_default_label,
        cutoffs=TriageCutoffs(settings.src.obstacle_above, settings.src.no_obstacle_at_most),
        settings=PageSettings(
            panels=settings.recording.panels,
            shortcuts=settings.shortcuts,
            advance_on_label=settings.advance_on_label,
            view_height=settings.view_height,
            thumb_height=settings.thumb_height,
        ),
        valuer=settings_valuer(settings, site),
    )
    print("\n".join(f"[review {site}] {line}" for line in result.summary()))
    return result.page


main = entry_point("review", run)

if __name__ == "__main__":
    main()
