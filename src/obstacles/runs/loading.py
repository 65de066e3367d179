"""Loading a trained classifier from its checkpoint: the one loader, for every tool that scores,
embeds or exports with a run's model (`obstacles.runs.lookup.find_run` says which checkpoint).

Reading and building are apart so that a tool can check the checkpoint's hyperparameters against
its settings (evaluation, resuming a run) before it builds the network.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # finding a run needs neither Lightning nor torch; loading one does
    from obstacles.models.module import ObstacleClassifier

ARCHITECTURE_KEYS = ("backbone", "in_chans")  # what a checkpoint must record to be rebuilt


def read_checkpoint(path: str | Path) -> dict:
    """The checkpoint's contents (tensors and plain values only: no code runs on load), or an
    error naming the file."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"cannot read checkpoint {path}: {error}") from error
    hparams = checkpoint.get("hyper_parameters") if isinstance(checkpoint, dict) else None
    if not hparams or any(key not in hparams for key in ARCHITECTURE_KEYS) or "state_dict" not in checkpoint:
        raise ValueError(
            f"checkpoint {path} is not an ObstacleClassifier checkpoint: it lacks hyper_parameters "
            f"{list(ARCHITECTURE_KEYS)} or a state_dict"
        )
    return checkpoint


def build_model(checkpoint: dict) -> ObstacleClassifier:
    """The trained network in eval mode. `pretrained` is forced off: the checkpoint holds every
    weight, so nothing is downloaded even when the run started from pretrained weights."""
    from obstacles.models.module import ObstacleClassifier  # Lightning import only when a model is needed

    model = ObstacleClassifier(**{**checkpoint["hyper_parameters"], "pretrained": False})
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval()


def load_classifier(checkpoint: str | Path) -> ObstacleClassifier:
    """The classifier a checkpoint file holds, in eval mode (its run's config: `find_run(...).config`)."""
    return build_model(read_checkpoint(checkpoint))
