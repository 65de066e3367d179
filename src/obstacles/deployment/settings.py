"""The export's settings: the schema conf/export.yaml fills (Hydra's ConfigStore `export_schema`),
and the part `obstacles.deployment.bundle` reads to shape the models (`ModelFormat`).

Light on purpose (no torch or onnx): Hydra imports it to compose the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING


@dataclass
class ModelFormat:
    """How the models are exported and what input they are described as taking."""

    opset: int = MISSING  # ONNX opset
    panel_size: int | None = MISSING  # H = W of one panel in the exported input; None: the run's, else stored
    stored_panel_size: int = MISSING  # the recorder's panels
    dynamic_panel_size: bool = MISSING  # H and W dynamic ONNX axes too
    pixel_threshold: float | None = MISSING  # diff-mask threshold of a 7-channel model; None: each site's


@dataclass
class ExportSettings(ModelFormat):
    """conf/export.yaml: which run, where its bundle goes, what gates it, and the model format."""

    ckpt_path: str | None = MISSING  # a checkpoint or a run folder; None: the latest run's best
    out_dir: str | None = MISSING  # None: `bundle.default_export_dir`
    exports_dir: str = MISSING
    thresholds_path: str | None = MISSING  # None: the run's own, if any
    champion_report: str | None = MISSING  # None: `bundle.champion_source`'s lookup
    reports_dir: str | None = MISSING
    allow_worse: bool = MISSING
    paths: dict[str, str] = field(default_factory=dict)  # conf/paths/default.yaml


ConfigStore.instance().store(name="export_schema", node=ExportSettings)
