"""Audit the merged dataset with the current model: `python -m obstacles.commands.audit` (conf/audit.yaml).

Leakage, label conflicts and surprising labels, as CSVs, index.html, summary.json and W&B tables:
`obstacles.curation.audit`. The model: `ckpt_path=` (conf/embedder/checkpoint.yaml).
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from obstacles.curation.audit import audit, log_wandb
from obstacles.infra.config import entry_point
from obstacles.io.html import SheetLayout


def run(cfg: DictConfig) -> Path:
    name, root = cfg.dataset.name, Path(cfg.paths.root_dir)  # manifest paths: under root
    result = audit(
        name,
        Path(cfg.dataset.manifest),
        root,
        cfg.out_dir,
        instantiate(cfg.embedder, _partial_=True),  # called once the manifest is found; raises its own errors
        dup_thresh=cfg.dup_thresh,
        top_surprising=cfg.top_surprising,
        reversed_suffix=cfg.no_mask_train.reversed_suffix,
        panels=cfg.panels,
        panel_size=cfg.panel_size,
        cache_dir=cfg.cache_dir,
        batch_size=cfg.batch_size,
        block_rows=cfg.block_rows,
        page=SheetLayout(cfg.sheet.thumb_height, cfg.sheet.max_rows),
    )
    print(f"[audit {name}] {result.summary_line()}")
    if cfg.wandb.enabled:
        record = log_wandb(cfg.wandb, result.tables, result.summary, root, name=f"audit-{name}")
        print(f"[audit {name}] W&B run {record['run_id']} ({record['mode']})")
    return result.out


main = entry_point("audit", run)

if __name__ == "__main__":
    main()
