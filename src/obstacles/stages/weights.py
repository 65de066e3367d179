"""weights: per-image sample weights of the training split, and their pictures."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from obstacles.infra.config import entry_point
from obstacles.io.outputs import atomic_dir, save_figure, write_text_atomic
from obstacles.lineage.names import TRAIN, to_is_obstacle
from obstacles.weights import compute_sample_weights
from obstacles.weights.figures import weight_curve, weight_distribution
from obstacles.weights.spread import WeightSpread, class_spreads, concentrated_classes, curve_bounds

CURVE_KEYS = ("alfa", "beta", "gamma", "swc", "std_threshold_dist")


def training_weights(manifest: pd.DataFrame, weights_cfg) -> pd.DataFrame:
    """The weight table of the manifest's training rows (what training computes at load time)."""
    train = manifest[manifest["split"] == TRAIN].reset_index(drop=True)
    curve = {key: float(weights_cfg[key]) for key in CURVE_KEYS}
    table = compute_sample_weights(train["diff_metric"], train["label"], **curve)
    return pd.concat([train[["path", "site", "label"]], table], axis=1)


def class_summary(table: pd.DataFrame, spreads: dict[str, WeightSpread] | None = None) -> dict:
    """Per class: its diff_metric statistics and weights; with `spreads`, where the weights sit
    (`share_at_min_weight`, `share_at_max_weight`: within the report's tolerance of 1 and 1 + swc)."""
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
        if spreads and label in spreads:
            spread = spreads[label]
            summary[label].update(
                share_at_min_weight=round(spread.share_at_min_weight, 6),
                share_at_max_weight=round(spread.share_at_max_weight, 6),
                peak_weight=round(spread.peak_weight, 6),
                peak_share=round(spread.peak_share, 6),
            )
    return summary


def concentration_warnings(spreads: dict[str, WeightSpread], *, max_share: float, tolerance: float) -> list[str]:
    """One line per class whose weights no longer single out hard cases."""
    return [
        f"warning: class {label}: {spread.peak_share:.1%} of its {spread.images} training images have weight "
        f"{spread.peak_weight:.3f} (within {tolerance * 100:g}%; warned above {max_share * 100:g}%): the weighting "
        "does not single out its hard cases; see weight_distribution.png, or lower weights.std_threshold_dist"
        for label, spread in concentrated_classes(spreads, max_share).items()
    ]


def run(cfg: DictConfig) -> Path:
    manifest_path = Path(cfg.dataset.manifest)
    if not manifest_path.is_file():
        raise FileNotFoundError(f"{manifest_path} not found: build the merged dataset first (dvc repro balanced)")
    table = training_weights(pd.read_csv(manifest_path), cfg.weights)
    is_obstacle = to_is_obstacle(table["label"])
    curve = OmegaConf.to_container(cfg.weights)
    report = cfg.weights_report
    spreads = class_spreads(table["sample_weight"], is_obstacle, swc=float(curve["swc"]), tolerance=report.tolerance)
    with atomic_dir(cfg.dataset.weights_dir) as out:
        table.to_csv(out / "sample_weights.csv", index=False, float_format="%.6f", lineterminator="\n")
        shape = {k: curve[k] for k in ("alfa", "beta", "gamma", "swc")}
        save_figure(weight_curve(table, is_obstacle, **shape), out / "weight_curve.png")
        save_figure(weight_distribution(table, is_obstacle), out / "weight_distribution.png")
        low, high = curve_bounds(float(curve["swc"]))
        checked = {
            "max_share": float(report.max_share),
            "tolerance": float(report.tolerance),
            "min_weight": low,
            "max_weight": high,
        }
        summary = {"curve": curve, "classes": class_summary(table, spreads), "weights_report": checked}
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(
        f"[weights {cfg.dataset.name}] {len(table)} training images; "
        + ", ".join(
            f"{label}: mean weight {s['sample_weight_mean']:.3f} (max {s['sample_weight_max']:.3f})"
            for label, s in summary["classes"].items()
        )
    )
    for line in concentration_warnings(spreads, max_share=report.max_share, tolerance=report.tolerance):
        print(line)
    return Path(cfg.dataset.weights_dir)


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
