"""A static review page for one site's triage: `python -m obstacles.commands.review site=<id>` (conf/review.yaml).

The page and where its labels start from: `obstacles.curation.review`; the reviewer's export is
`labels/<site>.csv`, read by the mask_train stage.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from obstacles.curation.embedding import input_spec
from obstacles.curation.review import ORDERS, PageSettings, read_issues, scoring_valuer, write_review_page
from obstacles.curation.review_value import ValueWeights
from obstacles.infra.config import entry_point
from obstacles.lineage.names import SRC_DIR
from obstacles.lineage.settings import site_dir, site_name
from obstacles.lineage.triage import TriageCutoffs


def valuer(cfg: DictConfig, site: str):
    """order=value: the current model (`ckpt_path=`, default the latest run) and the out-of-fold
    label issues rank the frames; order=file: none (the page keeps capture-time order)."""
    if cfg.order not in ORDERS:
        raise ValueError(f"order={cfg.order!r}: expected one of {ORDERS}")
    if cfg.order == "file":
        return None
    embedder = instantiate(cfg.embedder)
    spec = input_spec(embedder, panels=cfg.recording.panels, panel_size=None, pixel_threshold=cfg.site.pixel_threshold)
    issues = read_issues(cfg.value.label_issues)
    if issues is None:
        print(f"[review {site}] no out-of-fold label issues at {cfg.value.label_issues}: ranked without them")
    weights = ValueWeights(
        cfg.value.issue_weight, cfg.value.disagreement_weight, cfg.value.uncertainty_weight, cfg.value.threshold
    )
    print(f"[review {site}] value order with {embedder.description}")
    return scoring_valuer(
        embedder,
        spec,
        issues,
        site=site,
        weights=weights,
        reversed_suffix=cfg.no_mask_train.reversed_suffix,
        cache_dir=cfg.cache_dir,
        batch_size=cfg.batch_size,
    )


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
        valuer=valuer(cfg, site),
    )
    print("\n".join(f"[review {site}] {line}" for line in result.summary()))
    return result.page


main = entry_point("review", run)

if __name__ == "__main__":
    main()
