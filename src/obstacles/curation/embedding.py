"""Image embeddings: the trained classifier's penultimate features, or a timm backbone by name.

The classifier's features are the default because they encode what the model looks at:
two images it cannot tell apart embed close together. Its logit comes for free in the same
pass and is cached too (the audit needs both). The tools build theirs from the `embedder` config
group (`conf/embedder/{checkpoint,timm}.yaml`) with `hydra.utils.instantiate`.
"""

from __future__ import annotations

import json
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf
from tqdm import tqdm

from obstacles.curation.cache import EmbeddingCache, content_key
from obstacles.curation.images import sample_tensor
from obstacles.io.images import BadImage
from obstacles.io.provenance import file_sha256
from obstacles.lineage.names import PAIR_CHANNELS
from obstacles.runs.loading import load_classifier
from obstacles.runs.lookup import find_run

PROGRESS_MIN = 200  # files before a progress bar is worth showing


@dataclass(frozen=True)
class InputSpec:
    """How files become model inputs; part of the cache identity."""

    panels: int | None  # None: 2 or 3 from the aspect ratio
    panel_size: int | None  # None: native size
    with_diff_mask: bool
    pixel_threshold: float


class Embedder:
    """A feature extractor with a stable identity (the cache key), an input channel count, the
    panel size it expects (None: any) and a description for the tools' summary line."""

    identity: str
    in_chans: int
    panel_size: int | None = None
    description: str = ""

    def network(self) -> torch.nn.Module:
        raise NotImplementedError

    def logits(self, net: torch.nn.Module, features: torch.Tensor) -> np.ndarray:
        raise NotImplementedError

    @torch.inference_mode()
    def __call__(self, batch: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(features (B, D) float32, logits (B,) float32, NaN without a classifier head)."""
        net = self.network()
        features = net.forward_features(batch)
        pooled = net.forward_head(features, pre_logits=True).float()
        logits = self.logits(net, features)
        return pooled.numpy(), logits


class ClassifierEmbedder(Embedder):
    """A trained `ObstacleClassifier`: pooled penultimate features (as `embed`) and the logit."""

    def __init__(self, model, ckpt_path: str | Path, *, panel_size: int | None = None):
        self.model = model.eval()
        self.ckpt_path = Path(ckpt_path)
        self.in_chans = int(model.hparams.in_chans)
        self.panel_size = panel_size
        self.identity = f"checkpoint:{file_sha256(ckpt_path)}"
        self.description = f"checkpoint {ckpt_path}"

    def network(self) -> torch.nn.Module:
        return self.model.backbone

    def logits(self, net: torch.nn.Module, features: torch.Tensor) -> np.ndarray:
        return net.forward_head(features).squeeze(1).float().numpy()


class TimmEmbedder(Embedder):
    """Any timm backbone by name, from a local weights file or a seeded random init (no downloads)."""

    def __init__(self, backbone: str, *, in_chans: int, weights_path: str | None, seed: int):
        import timm

        import obstacles.models.field_cnn  # noqa: F401  (registers field_cnn)
        from obstacles.models.backbone import check_backbone_name

        check_backbone_name(backbone)
        if weights_path and not Path(weights_path).is_file():
            raise FileNotFoundError(f"embedder weights file {weights_path}: no such file")
        overlay = {"file": str(weights_path)} if weights_path else None
        with torch.random.fork_rng(devices=[]), warnings.catch_warnings():  # seeded without touching global RNG
            torch.manual_seed(seed)
            warnings.filterwarnings("ignore", "Initializing zero-element tensors")  # field_cnn's empty head
            # pretrained + a local file: timm loads it and adapts the first conv to in_chans
            self.net = timm.create_model(
                backbone,
                pretrained=bool(weights_path),
                pretrained_cfg_overlay=overlay,
                num_classes=0,
                in_chans=in_chans,
            ).eval()
        self.in_chans = in_chans
        source = f"weights:{file_sha256(weights_path)}" if weights_path else f"random:seed{seed}:timm{timm.__version__}"
        self.identity = f"timm:{backbone}:in{in_chans}:{source}"
        self.description = f"timm {backbone}"

    def network(self) -> torch.nn.Module:
        return self.net

    def logits(self, net: torch.nn.Module, features: torch.Tensor) -> np.ndarray:
        return np.full(len(features), np.nan, np.float32)


def checkpoint_embedder(ckpt_path: str | Path | None, experiments_dir: str | Path) -> ClassifierEmbedder:
    """The trained classifier of ckpt_path (None: the latest run's best checkpoint), expecting the
    panel size it was trained at (`conf/embedder/checkpoint.yaml`)."""
    run = find_run(ckpt_path, experiments_dir=experiments_dir)
    panel_size = OmegaConf.select(run.config, "data.panel_size") if run.config is not None else None
    return ClassifierEmbedder(load_classifier(run.checkpoint), run.checkpoint, panel_size=panel_size)


def input_spec(embedder: Embedder, *, panels: int | None, panel_size: int | None, pixel_threshold: float) -> InputSpec:
    """Inputs as the embedder needs them: 7 channels means the diff mask is computed, and panel_size
    None means the size the embedder expects (a checkpoint's training size)."""
    return InputSpec(
        panels=panels,
        panel_size=panel_size or embedder.panel_size,
        with_diff_mask=embedder.in_chans > PAIR_CHANNELS,
        pixel_threshold=float(pixel_threshold),
    )


@dataclass
class Embedded:
    """Embeddings of the usable files, row for row with `paths`; unusable files in `skipped`."""

    paths: list[Path] = field(default_factory=list)
    vectors: np.ndarray | None = None
    logits: np.ndarray | None = None
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    computed: int = 0  # files that missed the cache


def _forward(embedder: Embedder, tensors: dict[str, torch.Tensor]) -> dict[str, tuple[np.ndarray, float]]:
    """Embed content keys -> tensors; tensors of one shape share a batch."""
    by_shape = defaultdict(list)
    for key, tensor in tensors.items():
        by_shape[tuple(tensor.shape)].append(key)
    out = {}
    for keys in by_shape.values():
        vectors, logits = embedder(torch.stack([tensors[k] for k in keys]))
        out.update({k: (v, float(g)) for k, v, g in zip(keys, vectors, logits)})
    return out


def embed_files(
    files: list[Path],
    embedder: Embedder,
    spec: InputSpec,
    *,
    cache_dir: str | Path | None,
    batch_size: int,
    desc: str = "",
) -> Embedded:
    """Embed files in batches, reading each once and skipping the model for cached content."""
    cache = EmbeddingCache(cache_dir, json.dumps({"model": embedder.identity, **asdict(spec)}, sort_keys=True))
    result, keys = Embedded(), []
    progress = tqdm(total=len(files), desc=desc, unit="img", disable=not desc or len(files) < PROGRESS_MIN)
    for start in range(0, len(files), batch_size):
        pending = {}
        for path in files[start : start + batch_size]:
            try:
                data = path.read_bytes()
                key = content_key(data)
                if cache.get(key) is None and key not in pending:
                    pending[key] = sample_tensor(data, **asdict(spec))
            except (OSError, BadImage) as exc:
                result.skipped.append((path, str(exc)))
                continue
            result.paths.append(path)
            keys.append(key)
        for key, (vector, logit) in _forward(embedder, pending).items():
            cache.put(key, vector, logit)
        result.computed += len(pending)
        progress.update(len(files[start : start + batch_size]))
    progress.close()
    cache.save()
    rows = [cache.get(key) for key in keys]
    result.vectors = np.stack([v for v, _ in rows]) if rows else np.zeros((0, 0), np.float32)
    result.logits = np.array([g for _, g in rows], np.float32)
    return result
