"""The repository the tests run from, the pipeline's config as the stages see it, and digests of
what the tools write."""

from __future__ import annotations

import hashlib
from pathlib import Path

from omegaconf import OmegaConf, open_dict

from obstacles.infra.config import CONF_DIR, compose

REPO = Path(CONF_DIR).parent


def pipeline_cfg(root: Path, site: str | None = None, pixel_threshold: int = 50, overrides=(), config="pipeline"):
    """conf/pipeline.yaml (or a config built on it) as the stages see it, rooted at a scratch folder."""
    cfg = compose(config, [f"paths.root_dir={root}", "workers=1", *overrides])
    with open_dict(cfg):
        if site:
            cfg.site = OmegaConf.create({"name": site, "pixel_threshold": pixel_threshold})
        cfg.sites = [site] if site else []
    return cfg


def metric_leaves(tree: dict, prefix: str = ""):
    """(dotted key, value) of every leaf of nested dicts, as DVC flattens a metrics file."""
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from metric_leaves(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file below folder."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }
