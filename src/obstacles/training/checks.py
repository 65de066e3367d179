"""Checks run before any training step: `preflight` on the config alone, before the run folder is
numbered (a refused run leaves no `experiments/NNN.*`), then `check_channels` across the built
objects (each object also checks its own arguments)."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.data import ObstacleDataModule
from obstacles.data.dataset import check_image_files, read_manifest, require_manifest
from obstacles.lineage.names import PAIR_CHANNELS
from obstacles.models import ObstacleClassifier
from obstacles.models.backbone import check_backbone_name
from obstacles.runs.layout import CONFIG_DIR, OVERRIDES_FILE, RUN_CONFIG
from obstacles.runs.loading import read_checkpoint
from obstacles.training.weighting import get_weighting_mode


def check_channel_count(in_chans: int, with_diff_mask: bool) -> None:
    """The model's input channels must be what the data produces."""
    channels = PAIR_CHANNELS + int(with_diff_mask)
    if channels != in_chans:
        raise ValueError(
            f"model.in_chans={in_chans} but data.with_diff_mask={with_diff_mask} gives "
            f"{channels} channels: set model.in_chans={channels} or flip data.with_diff_mask"
        )


def preflight(cfg: DictConfig) -> None:
    """What the config alone can refuse, in about a second: an unknown backbone or weighting mode,
    a channel mismatch, a missing weights file, manifest or image. Runs before the run folder is
    numbered (`obstacles.runs.reserve.ReserveRunFolder`); checks only the sections the config has
    (a sweep's root, a test's partial one)."""
    model, data = cfg.get("model"), cfg.get("data")
    if model is not None:
        check_backbone_name(str(model.backbone))
        if model.get("weights_path") and not Path(model.weights_path).is_file():
            raise FileNotFoundError(f"model.weights_path: no file at {model.weights_path}")
    if data is None:
        return
    get_weighting_mode(str(data.weighting))
    if model is not None:
        check_channel_count(int(model.in_chans), bool(data.with_diff_mask))
    manifest = require_manifest(data.manifest, data.dataset_dir)
    check_image_files(read_manifest(manifest, data.root_dir), manifest)


# checkpoint hyperparameters a resumed run may compose differently: the checkpoint holds every
# weight (pretrained only chose the start), and these change no weight or recipe
RESUME_MAY_DIFFER = ("pretrained", "channels_last")


def check_resume(cfg: DictConfig) -> None:
    """Before anything is built or written (the run's run.json included): the checkpoint to resume
    reads as a classifier checkpoint (a truncated last.ckpt is refused here, naming it), and the
    composed model is the one it holds. Resuming composes today's defaults plus the command line,
    not the run's config, so a run trained with `experiment=demo` (a 7-channel field CNN) resumed
    without it would build a resnet18 and die in load_state_dict with a hundred-line key list:
    refused instead, naming each differing setting and the run's own overrides to repeat."""
    checkpoint = read_checkpoint(Path(cfg.ckpt_path))
    saved = checkpoint["hyper_parameters"]
    model = OmegaConf.to_container(cfg.model, resolve=True) if cfg.get("model") is not None else {}
    differing = [
        f"model.{key}: run {saved[key]!r}, composed {model[key]!r}"
        for key in sorted(saved)
        if key in model and key not in RESUME_MAY_DIFFER and _plain(saved[key]) != _plain(model[key])
    ]
    if not differing:
        return
    run = Path(cfg.ckpt_path).parent.parent
    overrides = run / CONFIG_DIR / OVERRIDES_FILE  # the command line it was trained with
    given = " ".join(str(o) for o in OmegaConf.load(overrides)) if overrides.is_file() else ""
    hint = f"the run's own command line was `{given}`" if given else f"see {run / RUN_CONFIG}"
    raise ValueError(
        f"ckpt_path={cfg.ckpt_path} was trained with other model settings than this command composes:\n  "
        + "\n  ".join(differing)
        + f"\nresume with the run's settings on the command line ({hint}); nothing was built or changed"
    )


def _plain(value):
    """Compare a checkpoint's saved value with a composed one: tuples and lists alike."""
    return [_plain(v) for v in value] if isinstance(value, (list, tuple)) else value


def check_channels(datamodule: ObstacleDataModule, model: ObstacleClassifier) -> None:
    """The model's input channels must match what the data produces (decodes one sample)."""
    expected = model.hparams.in_chans
    check_channel_count(expected, datamodule.with_diff_mask)
    datamodule.setup("fit")
    shape = tuple(datamodule.train_set[0]["image"].shape)
    if shape[0] != expected:
        raise ValueError(f"a training sample has shape {shape}, the model expects {expected} channels")
