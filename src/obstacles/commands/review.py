"""A static review page for one site's triage: `python -m obstacles.commands.review site=<id>` (conf/review.yaml).

The page and where its labels start from: `obstacles.curation.review`; the reviewer's export is
`labels/<site>.csv`, read by the mask_train stage. The settings: `obstacles.curation.settings.ReviewSettings`.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from obstacles.curation.embedding import input_spec
from obstacles.curation.review import ORDERS, PageSettings, read_issues, scoring_valuer, write_review_page
from obstacles.curation.review_value import ValueWeights
from obstacles.curation.settings import ReviewSettings
from obstacles.infra.config import entry_point
from obstacles.lineage.names import SRC_DIR
from obstacles.lineage.settings import site_dir, site_name
from obstacles.lineage.triage import TriageCutoffs


def valuer(settings: ReviewSettings, site: str):
    """order=value: the current model (`ckpt_path=`, default the latest run) and the out-of-fold
    label issues rank the frames; order=file: none (the page keeps capture-time order)."""
    if settings.order not in ORDERS:
        raise ValueError(f"order={settings.order!r}: expected one of {ORDERS}")
    if settings.order == "file":
        return None
    embedder = instantiate(settings.embedder)
    spec = input_spec(
        embedder, panels=settings.recording.panels, panel_size=None, pixel_threshold=settings.site.pixel_threshold
    )
    value = settings.value
    issues = read_issues(value.label_issues)
    if issues is None:
        print(f"[review {site}] no out-of-fold label issues at {value.label_issues}: ranked without them")
    weights = ValueWeights(value.issue_weight, value.disagreement_weight, value.uncertainty_weight, value.threshold)
    print(f"[review {site}] value order with {embedder.description}")
    return scoring_valuer(
        embedder,
        spec,
        issues,
        site=site,
        weights=weights,
        reversed_suffix=settings.no_mask_train.reversed_suffix,
        cache_dir=settings.cache_dir,
        batch_size=settings.batch_size,
    )


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
        valuer=valuer(settings, site),
    )
    print("\n".join(f"[review {site}] {line}" for line in result.summary()))
    return result.page


main = entry_point("review", run)

if __name__ == "__main__":
    main()
