"""Log an evaluation to the training run's W&B run (offline unless WANDB_MODE says otherwise).

Attaching with the stored run id and resume="allow" puts training curves and evaluation
results side by side in one W&B run; offline runs are uploaded later with `wandb sync`.
Everything is logged from the finished evaluation folder, so W&B holds exactly its files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from obstacles.evaluation.gallery import Gallery
from obstacles.evaluation.report import FIGURES_DIR, ROC_PR_FIGURE, Tables, confusion_file, threshold_tag
from obstacles.infra.tracking import WandbSettings, log_outputs, wandb_run
from obstacles.lineage.names import CLASSES, OBSTACLE


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


def summary_values(payload: dict, tables: Tables) -> dict:
    """Flat W&B summary keys (under the prefix): auroc, t0.50/recall, ..."""
    values = {k: v for k, v in payload.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    for row in tables.per_threshold.to_dict("records"):
        tag = threshold_tag(row["threshold"])
        values.update({f"{tag}/{k}": v for k, v in row.items() if k != "threshold"})
    return values


def log_evaluation(
    settings: WandbSettings,
    out_dir: Path,
    wandb_dir: Path,
    run_id: str,
    *,
    config: dict,
    predictions: pd.DataFrame,
    tables: Tables,
    payload: dict,
    galleries: list[Gallery],
    name: str,
) -> dict:
    """Summary, tables, figures and gallery images into the W&B run `run_id` (created if new),
    with the `wandb` settings of conf/evaluate.yaml."""
    images = {"roc_pr": out_dir / FIGURES_DIR / ROC_PR_FIGURE}
    logged = {}
    for gallery in galleries:
        tag = threshold_tag(gallery.threshold)
        images[f"confusion/{tag}"] = out_dir / confusion_file(gallery.threshold)
        logged[f"confusion_chart/{tag}"] = confusion_chart(predictions, gallery.threshold, f"{name} {tag}")
        for kind, shown in gallery_images(out_dir, gallery, settings.max_gallery_images).items():
            logged[f"galleries/{tag}/{kind}"] = shown
    tables_logged = {"threshold_metrics": tables.per_threshold, "per_site": tables.per_site, "predictions": predictions}
    with wandb_run(settings, wandb_dir, run_id=run_id, name=name, config=config) as (run, record):
        log_outputs(
            run,
            settings.prefix,
            tables=tables_logged,
            images=images,
            logged=logged,
            summary=summary_values(payload, tables),
        )
    return record
