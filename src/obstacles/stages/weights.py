"""weights: per-image sample weights of the training split, and their pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from obstacles.config import entry_point
from obstacles.io.outputs import atomic_dir, write_text_atomic
from obstacles.labels import to_is_obstacle
from obstacles.plots import save_figure
from obstacles.weights import compute_sample_weights
from obstacles.weights.plots import weight_curve, weight_distribution

CURVE_KEYS = ("alfa", "beta", "gamma", "swc", "std_threshold_dist")


def training_weights(manifest: pd.DataFrame, weights_cfg) -> pd.DataFrame:
    """The weight table of the manifest's training rows (what training computes at load time)."""
    train = manifest[manifest["split"] == "train"].reset_index(drop=True)
    curve = {key: float(weights_cfg[key]) for key in CURVE_KEYS}
    table = compute_sample_weights(train["diff_metric"], train["label"], **curve)
    return pd.concat([train[["path", "site", "label"]], table], axis=1)


def class_summary(table: pd.DataFrame) -> dict:
    summary = {}
    for label, part in table.groupby("label"):
        summary[label] = {
            "images": int(len(part)),
            "diff_metric_mean": round(float(part["diff_metric"].mean()), 6),
            "diff_metric_std": round(float(part["diff_metric"].std(ddof=0)), 6),
            "diff_threshold": round(float(part["diff_threshold"].iloc[0]), 6),
            "sample_weight_mean": round(float(part["sample_weight"].mean()), 6),
            "sample_weight_max": round(float(part["sample_weight"].max()), 6),
        }
    return summary


def run(cfg: DictConfig) -> Path:
    manifest_path = Path(cfg.dataset.manifest)
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: build the merged dataset first (dvc repro balanced)")
    table = training_weights(pd.read_csv(manifest_path), cfg.weights)
    is_obstacle = to_is_obstacle(table["label"])
    curve = OmegaConf.to_container(cfg.weights)
    with atomic_dir(cfg.dataset.weights_dir) as out:
        table.to_csv(out / "sample_weights.csv", index=False, float_format="%.6f", lineterminator="\n")
        shape = {k: curve[k] for k in ("alfa", "beta", "gamma", "swc")}
        save_figure(weight_curve(table, is_obstacle, **shape), out / "weight_curve.png")
        save_figure(weight_distribution(table, is_obstacle), out / "weight_distribution.png")
        summary = {"curve": curve, "classes": class_summary(table)}
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"[weights {cfg.dataset.name}] {len(table)} training images; " + ", ".join(
        f"{label}: mean weight {s['sample_weight_mean']:.3f} (max {s['sample_weight_max']:.3f})"
        for label, s in summary["classes"].items()))
    return Path(cfg.dataset.weights_dir)


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
