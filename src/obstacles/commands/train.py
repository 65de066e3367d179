"""Train one classifier: `obstacles-train [overrides]` (config: conf/train.yaml); `-m` runs
sweeps (basic launcher, or `hparams_search=optuna`). The work is `obstacles.training.job.train`."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from obstacles.infra.config import CONF_DIR
from obstacles.runs.reserve import register_resolvers
from obstacles.training.job import train

register_resolvers()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def main(cfg: DictConfig) -> float | None:
    """The run (or sweep) folder is reserved as Hydra starts (`obstacles.runs.reserve.ReserveRunFolder`)."""
    return train(cfg)  # the Optuna sweeper maximises what this returns


if __name__ == "__main__":
    main()
