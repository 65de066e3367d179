"""Train one classifier: `obstacles-train [overrides]` (config: conf/train.yaml); `-m` runs
sweeps (basic launcher, or `hparams_search=optuna`). The work is `obstacles.training.job.train`."""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from obstacles.infra.config import CONF_DIR
from obstacles.runs.reserve import forget_reserved_dirs, register_resolvers
from obstacles.training.job import train

register_resolvers()


@hydra.main(version_base="1.3", config_path=CONF_DIR, config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    return train(cfg)  # the Optuna sweeper maximises what this returns


def main() -> None:
    """Command line: a new command reserves a new run (or sweep) folder."""
    forget_reserved_dirs()
    hydra_main()


if __name__ == "__main__":
    main()
