"""Deployment bundle of a trained classifier (TorchScript, ONNX, preprocessing spec, thresholds).

`python -m obstacles.commands.export` (conf/export.yaml, `obstacles.deployment.settings`) runs
`obstacles.deployment.bundle.export_bundle`. Nothing is imported here: Hydra imports the settings
module to compose the config, and that must not pull in torch.
"""
