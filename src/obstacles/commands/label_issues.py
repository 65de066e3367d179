"""Out-of-fold label issues: `python -m obstacles.commands.label_issues` (conf/label_issues.yaml).

K models on group-aware folds of the training split, confident learning on their out-of-fold
scores: `obstacles.curation.label_issues`. Each fold trains through `obstacles.training.job.train`
with conf/train.yaml and the config's `train_overrides` (the recipe). The settings:
`obstacles.curation.settings.LabelIssuesSettings`.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import hydra
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from obstacles.curation.label_issues import FoldPlan, label_issues, log_wandb
from obstacles.curation.settings import LabelIssuesSettings
from obstacles.infra.config import compose, entry_point
from obstacles.io.html import SheetLayout
from obstacles.runs.reserve import register_resolvers
from obstacles.training.job import train


def compose_train(overrides: list[str]) -> DictConfig:
    """conf/train.yaml with the fold's overrides: through the running Hydra when this is the
    command (Hydra allows one initialisation per process), else through `obstacles.infra.config.compose`."""
    register_resolvers()
    if GlobalHydra.instance().is_initialized():
        return hydra.compose("train", overrides=overrides)
    return compose("train", overrides)


def run(cfg: DictConfig) -> Path:
    settings: LabelIssuesSettings = OmegaConf.to_object(cfg)
    name, root = settings.dataset.name, Path(settings.paths["root_dir"])  # manifest paths: under root
    plan = FoldPlan(
        k=settings.folds,
        seed=settings.fold_seed,
        burst_gap_s=settings.split.burst_gap_s,
        reversed_suffix=settings.no_mask_train.reversed_suffix,
        train_overrides=tuple(settings.train_overrides),
        work_dir=Path(settings.work_dir),
        batch_size=settings.batch_size,
        look_alike_k=settings.look_alike_k,
    )
    page = SheetLayout(settings.sheet.thumb_height, settings.sheet.max_rows)
    manifest = Path(settings.dataset.manifest)
    result = label_issues(
        name,
        manifest,
        root,
        settings.out_dir,
        plan,
        train,
        compose_train,
        opinions=asdict(settings.opinions),
        page=page,
    )
    print(f"[label_issues {name}] {result.summary_line()}")
    if settings.wandb.enabled:
        record = log_wandb(settings.wandb, result, root, name=f"label-issues-{name}")
        print(f"[label_issues {name}] W&B run {record['run_id']} ({record['mode']})")
    return result.out


main = entry_point("label_issues", run)

if __name__ == "__main__":
    main()
