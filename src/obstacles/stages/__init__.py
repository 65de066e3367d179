"""DVC stages, one small Hydra entry point per dataset derivative (see dvc.yaml)."""
