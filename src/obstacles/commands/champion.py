"""`python -m obstacles.commands.champion challenger=<run | predictions.csv>`: is the new model better
than the one it would replace, on the same frames? (DESIGN section 5b)

Thin entry point over `obstacles.champion.job.compare_champion` (config: conf/champion.yaml, filling
`obstacles.champion.settings.ChampionSettings`), which says what is written where. The champion is the deployed model's recorded score by default, or
``champion=<run folder | predictions.csv>`` for an earlier model.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from obstacles.champion.job import compare_champion
from obstacles.champion.wording import summary
from obstacles.infra.config import entry_point


def run(cfg: DictConfig) -> dict:
    """Compare, then print both models side by side and the verdict."""
    report = compare_champion(OmegaConf.to_object(cfg))
    for line in summary(report, report["provenance"]):
        print(line)
    return report


main = entry_point("champion", run)

if __name__ == "__main__":
    main()
