"""Finding and loading a trained classifier: shared by similarity search, audit, export and evaluation.

A run folder is `experiments/NNN.<dataset>.<info>/` (a sweep's jobs one level deeper), holding
`checkpoints/best.ckpt` and the composed config `.hydra/config.yaml` (experiments/README.md).
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.training.run_dir import CHECKPOINTS_DIR, CONFIG_DIR, RUN_NUMBER, checkpoint_run_dir

BEST_NAME = "best.ckpt"
RUN_CONFIG = "config.yaml"


def _run_number(folder: Path) -> int:
    return int(RUN_NUMBER.match(folder.name).group(1))


def _best_checkpoints(run: Path) -> list[Path]:
    """The run's own best checkpoint, or those of its sweep jobs."""
    return [*run.glob(f"{CHECKPOINTS_DIR}/{BEST_NAME}"), *run.glob(f"*/{CHECKPOINTS_DIR}/{BEST_NAME}")]


def find_checkpoint(experiments_dir: str | Path, ckpt_path: str | Path | None = None) -> Path:
    """`ckpt_path` if given (a file, or a run folder holding checkpoints/best.ckpt), else the
    best checkpoint of the latest run (highest NNN that has one; in a sweep, its newest job's).

    Errors name the path that was looked at, so a typo or an untrained project is obvious.
    """
    if ckpt_path:
        path = Path(ckpt_path)
        if path.is_dir():
            path = path / CHECKPOINTS_DIR / BEST_NAME
        if not path.is_file():
            raise FileNotFoundError(f"checkpoint {path}: no such file")
        return path
    experiments = Path(experiments_dir)
    runs = sorted((p for p in experiments.glob("*") if p.is_dir() and RUN_NUMBER.match(p.name)), key=_run_number)
    for run in reversed(runs):
        found = _best_checkpoints(run)
        if found:
            return max(found, key=lambda p: p.stat().st_mtime_ns)
    raise FileNotFoundError(
        f"no run with {CHECKPOINTS_DIR}/{BEST_NAME} under {experiments}: train one (python -m obstacles.train) "
        "or pass ckpt_path=<file>"
    )


def run_config(ckpt_path: str | Path) -> DictConfig | None:
    """The composed config of the run that saved this checkpoint, if it sits in its run folder."""
    run = checkpoint_run_dir(ckpt_path)
    path = None if run is None else run / CONFIG_DIR / RUN_CONFIG
    return OmegaConf.load(path) if path is not None and path.is_file() else None


def load_classifier(ckpt_path: str | Path, map_location: str = "cpu"):
    """(model in eval mode, run config or None) from a Lightning checkpoint.

    `pretrained` is forced off: the checkpoint holds every weight, so nothing is downloaded
    even when the run started from pretrained weights.
    """
    from obstacles.models.module import ObstacleClassifier  # Lightning import only when a model is needed

    path = Path(ckpt_path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path}: no such file")
    model = ObstacleClassifier.load_from_checkpoint(path, map_location=map_location, pretrained=False)
    return model.eval(), run_config(path)
