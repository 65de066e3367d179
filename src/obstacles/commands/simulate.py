"""`python -m obstacles.commands.simulate`: recordings and review labels from a simulated site recorder.

Composes conf/simulate.yaml and hands its values to `obstacles.simulation.recorder`; prints one
line per site as it finishes.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.infra.config import entry_point
from obstacles.simulation.recorder import SiteSummary, simulate_sites


def _report(summary: SiteSummary) -> None:
    print(summary.line(), flush=True)


def run(cfg: DictConfig) -> list[SiteSummary]:
    """Every configured site, written under paths.recordings_dir and paths.labels_dir."""
    values = OmegaConf.to_container(cfg, resolve=True)
    return simulate_sites(
        Path(values["paths"]["recordings_dir"]),
        Path(values["paths"]["labels_dir"]),
        values["sites"],
        values["common"],
        seed=values["seed"],
        overwrite=values["overwrite"],
        workers=values["workers"],
        on_site=_report,
    )


main = entry_point("simulate", run)

if __name__ == "__main__":
    main()
