"""A map of the merged dataset: `python -m obstacles.commands.data_map` (conf/data_map.yaml).

t-SNE of the model's features, clusters and the per-cluster table with its flags:
`obstacles.curation.data_map` (the math) and `obstacles.curation.map_page` (the outputs); the settings:
`obstacles.curation.settings.DataMapSettings`.
"""

from __future__ import annotations

from pathlib import Path

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from obstacles.curation.map_page import log_wandb, map_dataset
from obstacles.curation.settings import DataMapSettings
from obstacles.infra.config import entry_point


def run(cfg: DictConfig) -> Path:
    settings: DataMapSettings = OmegaConf.to_object(cfg)
    name, root = settings.dataset.name, Path(settings.paths["root_dir"])
    result = map_dataset(
        name,
        Path(settings.dataset.manifest),
        root,
        settings.out_dir,
        instantiate(settings.embedder),
        settings,  # its MapSettings part: projection, clustering, flags
        panels=settings.panels,
        cache_dir=settings.cache_dir,
        batch_size=settings.batch_size,
        size=settings.page.size,
        radius=settings.page.radius,
    )
    print(f"[data_map {name}] {result.summary_line()}")
    if settings.wandb.enabled:
        record = log_wandb(settings.wandb, result, name=f"map-{name}")
        print(f"[data_map {name}] W&B run {record['run_id']} ({record['mode']})")
    return result.out


main = entry_point("data_map", run)

if __name__ == "__main__":
    main()
