"""Log an evaluation to the training run's W&B run (offline unless WANDB_MODE says otherwise).

Attaching with the stored run id and resume="allow" puts training curves and evaluation
results side by side in one W&B run; offline runs are uploaded later with `wandb sync`.
Everything is logged from the finished evaluation folder, so W&B holds exactly its files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from obstacles.evaluation.gallery import Gallery
from obstacles.evaluation.report import FIGURES_DIR, ROC_PR_FIGURE, Tables, confusion_file, threshold_tag
from obstacles.labels import CLASSES, OBSTACLE
from obstacles.tracking import wandb_run


def confusion_chart(predictions: pd.DataFrame, threshold: float, title: str):
    """W&B's interactive confusion matrix (counts; the PNG shows the row-normalised one)."""
    import wandb

    truth = (predictions["label"] == OBSTACLE).astype(int).tolist()
    predicted = (predictions["score"] > threshold).astype(int).tolist()
    return wandb.plot.confusion_matrix(y_true=truth, preds=predicted, class_names=list(CLASSES), title=title)


def gallery_images(out_dir: Path, gallery: Gallery, limit: int) -> dict:
    """The most wrongly scored images of each kind, captioned like the contact sheet."""
    import wandb

    images = {}
    for kind, rows in gallery.errors.items():
        folder = out_dir / gallery.relative_dir
        images[kind] = [
            wandb.Image(str(folder / row.file), caption=f"{row.score:.4f} {row.site} {row.path}")
            for row in rows.head(limit).itertuples(index=False)
        ]
    return {kind: shown for kind, shown in images.items() if shown}


def summary_values(payload: dict, tables: Tables, prefix: str) -> dict:
    """Flat W&B summary keys: eval/auroc, eval/t0.50/recall, ..."""
    values = {f"{prefix}/{k}": v for k, v in payload.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for row in tables.per_threshold.to_dict("records"):
        tag = threshold_tag(row["threshold"])
        values.update({f"{prefix}/{tag}/{k}": v for k, v in row.items() if k != "threshold"})
    return values


def log_evaluation(
    cfg: DictConfig,
    out_dir: Path,
    wandb_dir: Path,
    run_id: str,
    *,
    predictions: pd.DataFrame,
    tables: Tables,
    payload: dict,
    galleries: list[Gallery],
    name: str,
) -> dict:
    """Summary, tables, figures and gallery images into the W&B run `run_id` (created if new)."""
    import wandb

    prefix, limit = cfg.logger.prefix, cfg.logger.max_gallery_images
    config = {"evaluate": OmegaConf.to_container(cfg, resolve=True)}
    with wandb_run(cfg.logger, wandb_dir, run_id=run_id, name=name, config=config) as (run, record):
        logged = {
            f"{prefix}/threshold_metrics": wandb.Table(dataframe=tables.per_threshold),
            f"{prefix}/per_site": wandb.Table(dataframe=tables.per_site),
            f"{prefix}/predictions": wandb.Table(dataframe=predictions),
            f"{prefix}/roc_pr": wandb.Image(str(out_dir / FIGURES_DIR / ROC_PR_FIGURE)),
        }
        for gallery in galleries:
            tag = threshold_tag(gallery.threshold)
            logged[f"{prefix}/confusion/{tag}"] = wandb.Image(str(out_dir / confusion_file(gallery.threshold)))
            logged[f"{prefix}/confusion_chart/{tag}"] = confusion_chart(predictions, gallery.threshold, f"{name} {tag}")
            for kind, images in gallery_images(out_dir, gallery, limit).items():
                logged[f"{prefix}/galleries/{tag}/{kind}"] = images
        run.log(logged)
        run.summary.update(summary_values(payload, tables, prefix))
    return record
