"""Deployment bundle of a trained classifier: `python -m obstacles.commands.export ckpt_path=...` (conf/export.yaml).

Thin entry point over `obstacles.deployment.bundle.export_bundle`, which says what the bundle holds
(config: conf/export.yaml, filling `obstacles.deployment.settings.ExportSettings`).
Without ckpt_path it takes the latest run's best checkpoint; the bundle goes to
`exports/<run folder>/` (git-ignored; never into the run folder, which DVC owns).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.deployment.bundle import default_export_dir, export_bundle
from obstacles.deployment.settings import ExportSettings
from obstacles.infra.config import entry_point
from obstacles.runs.lookup import find_run


def run(cfg: DictConfig) -> Path:
    """Export the configured checkpoint, print where it went and which thresholds it carries."""
    settings: ExportSettings = OmegaConf.to_object(cfg)
    experiments_dir = Path(settings.paths["experiments_dir"])
    trained = find_run(settings.ckpt_path, experiments_dir=experiments_dir)
    bundle = export_bundle(
        trained,
        settings,
        out_dir=Path(settings.out_dir)
        if settings.out_dir
        else default_export_dir(trained.run_dir, experiments_dir, Path(settings.exports_dir)),
        thresholds_path=Path(settings.thresholds_path) if settings.thresholds_path else None,
        champion_report=Path(settings.champion_report) if settings.champion_report else None,
        reports_dir=Path(settings.reports_dir) if settings.reports_dir else None,
        allow_worse=settings.allow_worse,
    )
    print(bundle.summary())
    return bundle.out_dir


main = entry_point("export", run)

if __name__ == "__main__":
    main()
