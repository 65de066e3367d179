"""The configuration key of a run: what makes it a different recipe, seeds aside.

One definition for training's W&B config (`config_key`, beside `seed`) and for
`python -m obstacles.commands.compare`, which groups runs by it: the run's command-line overrides
(Hydra's task overrides, `.hydra/overrides.yaml`) without `seed` and without the keys a sweep job's
folder name leaves out (`hydra.job.config.override_dirname.exclude_keys`, conf/hydra/default.yaml:
paths, trainer, logger, debug, ...), as Hydra spells them, sorted and joined with "," the way it
names sweep jobs. So `-m weights.alfa=-2.0,-5.0 seed=1,2,3` gives two keys of three seeds each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from omegaconf import DictConfig, OmegaConf

from obstacles.runs.layout import CONFIG_DIR, HYDRA_FILE, OVERRIDES_FILE

SEED_KEY = "seed"
ITEM_SEP = ","


def config_key(overrides: Iterable[str], exclude_keys: Iterable[str]) -> str:
    """`a=1,b=2`: the overrides (as typed) whose key is neither `seed` nor excluded, sorted."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    excluded = {*exclude_keys, SEED_KEY}
    parsed = OverridesParser.create().parse_overrides(list(overrides))
    return ITEM_SEP.join(sorted(o.input_line for o in parsed if o.key_or_group not in excluded))


def key_items(key: str) -> list[str]:
    """The overrides a key is made of: split at the "," that start a new item (not those inside a
    list, dict or quoted value, which Hydra keeps in one override)."""
    if not key:
        return []
    items, depth, quote, start = [], 0, None, 0
    for i, char in enumerate(key):
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == ITEM_SEP and depth == 0:
            items.append(key[start:i])
            start = i + 1
    return [*items, key[start:]]


def running_config_key() -> str | None:
    """The key of the job Hydra is running now (training), None outside Hydra's runtime."""
    from hydra.core.hydra_config import HydraConfig

    if not HydraConfig.initialized():
        return None
    hydra = HydraConfig.get()
    return config_key(hydra.overrides.task, hydra.job.config.override_dirname.exclude_keys)


def latest_config_dir(run_dir: str | Path) -> Path:
    """`.hydra/resume-<k>` of the latest resume, else `.hydra`: the command that trained it last
    (what its W&B run's config says, since a resumed run logs its config again)."""
    config_dir = Path(run_dir) / CONFIG_DIR
    resumes = [p for p in config_dir.glob("resume-*") if p.name.split("-", 1)[1].isdigit()]
    return max(resumes, key=lambda p: int(p.name.split("-", 1)[1]), default=config_dir)


def saved_config_key(run_dir: str | Path, default_exclude_keys: Iterable[str] = ()) -> str:
    """The key of a finished run, from the Hydra files it saved (`hydra.yaml`, else
    `overrides.yaml` with default_exclude_keys); FileNotFoundError when it saved neither."""
    config_dir = latest_config_dir(run_dir)
    if (config_dir / HYDRA_FILE).is_file():
        hydra = OmegaConf.load(config_dir / HYDRA_FILE).hydra
        return config_key(_strings(hydra.overrides.task), _strings(hydra.job.config.override_dirname.exclude_keys))
    if (config_dir / OVERRIDES_FILE).is_file():
        return config_key(_strings(OmegaConf.load(config_dir / OVERRIDES_FILE)), default_exclude_keys)
    raise FileNotFoundError(f"{config_dir} has neither {HYDRA_FILE} nor {OVERRIDES_FILE}: its overrides are unknown")


def _strings(node: DictConfig | list) -> list[str]:
    return [str(item) for item in OmegaConf.to_container(node)] if not isinstance(node, list) else list(node)
