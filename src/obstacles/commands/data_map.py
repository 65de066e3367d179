"""A map of the merged dataset: `python -m obstacles.commands.data_map` (conf/data_map.yaml).

t-SNE of the model's features, clusters and the per-cluster table with its flags:
`obstacles.curation.data_map` (the math) and `obstacles.curation.map_page` (the outputs).
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig

from obstacles.curation.data_map import MapSettings
from obstacles.curation.map_page import log_wandb, map_dataset
from obstacles.infra.config import entry_point


def run(cfg: DictConfig) -> Path:
    name, root = cfg.dataset.name, Path(cfg.paths.root_dir)
    settings = MapSettings(
        pca_dims=int(cfg.pca_dims),
        perplexity=float(cfg.perplexity),
        clusters=int(cfg.clusters),
        seed=int(cfg.seed),
        threshold=float(cfg.threshold),
        error_gap=float(cfg.error_gap),
        min_judged=int(cfg.min_judged),
    )
    result = map_dataset(
        name,
        Path(cfg.dataset.manifest),
        root,
        cfg.out_dir,
        instantiate(cfg.embedder),
        settings,
        panels=cfg.panels,
        cache_dir=cfg.cache_dir,
        batch_size=cfg.batch_size,
        size=cfg.page.size,
        radius=cfg.page.radius,
    )
    print(f"[data_map {name}] {result.summary_line()}")
    if cfg.wandb.enabled:
        record = log_wandb(cfg.wandb, result, name=f"map-{name}")
        print(f"[data_map {name}] W&B run {record['run_id']} ({record['mode']})")
    return result.out


main = entry_point("data_map", run)

if __name__ == "__main__":
    main()
