"""What every stage needs: its site's folders and the bad-input policy."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from obstacles.io.bad_inputs import BadInputs


def site_name(cfg: DictConfig) -> str:
    if cfg.get("site") is None:
        raise SystemExit("this stage needs a site: add site=<recording id> (one of conf/site/*.yaml)")
    return str(cfg.site.name)


def site_dir(cfg: DictConfig, site: str | None = None) -> Path:
    """datasets/<site>/: every per-site derivative lives here."""
    return Path(cfg.paths.datasets_dir) / (site or site_name(cfg))


def bad_inputs(cfg: DictConfig) -> BadInputs:
    return BadInputs(str(cfg.on_bad_input), root=Path(cfg.paths.root_dir))
