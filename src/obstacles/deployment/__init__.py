"""Deployment bundle of a trained classifier (TorchScript, ONNX, preprocessing spec, thresholds).

`python -m obstacles.commands.export` (conf/export.yaml) runs `export_bundle`; see `bundle`.
"""

from obstacles.deployment.bundle import Bundle, ChallengerWorse, ExportSettings, export_bundle

__all__ = ["Bundle", "ChallengerWorse", "ExportSettings", "export_bundle"]
