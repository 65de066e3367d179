"""Audit the merged dataset with the current model: `python -m obstacles.commands.audit` (conf/audit.yaml).

Leakage, label conflicts and surprising labels, as CSVs, index.html, summary.json and W&B tables:
`obstacles.curation.audit`. The model: `ckpt_path=` (conf/embedder/checkpoint.yaml). The settings:
`obstacles.curation.settings.AuditSettings`.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from obstacles.curation.audit import audit, log_wandb
from obstacles.curation.settings import AuditSettings
from obstacles.infra.config import entry_point
from obstacles.io.html import SheetLayout


def run(cfg: DictConfig) -> Path:
    settings: AuditSettings = OmegaConf.to_object(cfg)
    name, root = settings.dataset.name, Path(settings.paths["root_dir"])  # manifest paths: under root
    result = audit(
        name,
        Path(settings.dataset.manifest),
        root,
        settings.out_dir,
        instantiate(settings.embedder, _partial_=True),  # called once the manifest is found; raises its own errors
        dup_thresh=settings.dup_thresh,
        top_surprising=settings.top_surprising,
        reversed_suffix=settings.no_mask_train.reversed_suffix,
        panels=settings.panels,
        panel_size=settings.panel_size,
        cache_dir=settings.cache_dir,
        batch_size=settings.batch_size,
        block_rows=settings.block_rows,
        page=SheetLayout(settings.sheet.thumb_height, settings.sheet.max_rows),
    )
    print(f"[audit {name}] {result.summary_line()}")
    if settings.wandb.enabled:
        record = log_wandb(settings.wandb, result.tables, result.summary, root, name=f"audit-{name}")
        print(f"[audit {name}] W&B run {record['run_id']} ({record['mode']})")
    return result.out


main = entry_point("audit", run)

if __name__ == "__main__":
    main()
