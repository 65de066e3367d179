"""Deployment bundle of a trained classifier: `python -m obstacles.commands.export ckpt_path=...` (conf/export.yaml).

Thin entry point over `obstacles.deployment.export_bundle`, which says what the bundle holds.
Without ckpt_path it takes the latest run's best checkpoint; the bundle goes to
`exports/<run folder>/` (git-ignored; never into the run folder, which DVC owns).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from obstacles.deployment import ExportSettings, export_bundle
from obstacles.deployment.bundle import default_export_dir
from obstacles.infra.config import entry_point
from obstacles.runs.lookup import find_checkpoint


def run(cfg: DictConfig) -> Path:
    """Export the configured checkpoint, print where it went and which thresholds it carries."""
    ckpt = find_checkpoint(cfg.paths.experiments_dir, cfg.ckpt_path)
    settings = ExportSettings(
        opset=int(cfg.opset),
        panel_size=cfg.panel_size,
        stored_panel_size=int(cfg.stored_panel_size),
        dynamic_panel_size=bool(cfg.dynamic_panel_size),
        pixel_threshold=None if cfg.pixel_threshold is None else float(cfg.pixel_threshold),
    )
    bundle = export_bundle(
        ckpt,
        settings,
        out_dir=Path(cfg.out_dir)
        if cfg.out_dir
        else default_export_dir(ckpt, Path(cfg.paths.experiments_dir), Path(cfg.exports_dir)),
        thresholds_path=Path(cfg.thresholds_path) if cfg.thresholds_path else None,
        champion_report=Path(cfg.champion_report) if cfg.champion_report else None,
        reports_dir=Path(cfg.reports_dir) if cfg.reports_dir else None,
        allow_worse=bool(cfg.allow_worse),
    )
    print(bundle.summary())
    return bundle.out_dir


main = entry_point("export", run)

if __name__ == "__main__":
    main()
