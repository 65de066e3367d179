"""Matplotlib figures shared by evaluation and the threshold search.

Figures are built with `matplotlib.figure.Figure` (no pyplot), so no global backend or state is
touched and a notebook's own plotting is left alone. Figures are written by
`obstacles.io.outputs.save_figure` (atomic, stable bytes).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from obstacles.lineage.names import CLASSES
from obstacles.metrics import normalize_confusion, validate_predictions


def confusion_matrix_figure(counts, *, title: str = "", normalize: bool = True) -> Figure:
    """2x2 picture, rows = true class; cells show the row fraction and the count."""
    counts = np.asarray(counts)
    fractions = normalize_confusion(counts)
    fig = Figure(figsize=(4.2, 3.6), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(fractions if normalize else counts, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    for (i, j), count in np.ndenumerate(counts):
        dark = fractions[i, j] > 0.5
        text = f"{fractions[i, j]:.3f}\n({int(count)})"
        ax.text(j, i, text, ha="center", va="center", color="white" if dark else "black")
    ax.set_xticks(range(2), [f"pred {c}" for c in CLASSES])
    ax.set_yticks(range(2), [f"true {c}" for c in CLASSES])
    ax.set_title(title)
    fig.colorbar(image, ax=ax, shrink=0.8)
    return fig


def roc_pr_figure(scores, labels, *, title: str = "") -> Figure:
    """ROC and precision-recall curves side by side, AUROC and AP in the legends."""
    from sklearn.metrics import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve

    score_array, is_obstacle = validate_predictions(scores, labels, require_both_classes=True)
    fpr, tpr, _ = roc_curve(is_obstacle, score_array)
    precision, recall, _ = precision_recall_curve(is_obstacle, score_array)
    fig = Figure(figsize=(9, 4), layout="constrained")
    roc_ax, pr_ax = fig.subplots(1, 2)
    roc_ax.plot(fpr, tpr, label=f"AUROC {roc_auc_score(is_obstacle, score_array):.4f}")
    roc_ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    roc_ax.set(xlabel="false-alarm rate (1 - specificity)", ylabel="recall (sensitivity)", title="ROC")
    pr_ax.step(recall, precision, where="post", label=f"AP {average_precision_score(is_obstacle, score_array):.4f}")
    pr_ax.set(xlabel="recall", ylabel="precision", title="precision-recall", ylim=(0, 1.02))
    for ax in (roc_ax, pr_ax):
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right" if ax is roc_ax else "lower left")
    fig.suptitle(title)
    return fig


def roc_overlay_figure(labels, curves: dict[str, np.ndarray], *, title: str = "") -> Figure:
    """Several scorers' ROC curves over the same frames (name -> scores), AUROC in the legend: the
    champion comparison's picture, where a gap between the curves is a gap on identical frames."""
    from sklearn.metrics import roc_auc_score, roc_curve

    fig = Figure(figsize=(5, 4.6), layout="constrained")
    ax = fig.add_subplot()
    for name, scores in curves.items():
        score_array, is_obstacle = validate_predictions(scores, labels, require_both_classes=True)
        fpr, tpr, _ = roc_curve(is_obstacle, score_array)
        ax.plot(fpr, tpr, label=f"{name}: AUROC {roc_auc_score(is_obstacle, score_array):.4f}")
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    ax.set(xlabel="false-alarm rate (1 - specificity)", ylabel="recall (sensitivity)", xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title, fontsize="medium")
    return fig


def risk_coverage_figure(
    sweep: pd.DataFrame, *, highlight: tuple[float, float] | None = None, title: str = ""
) -> Figure:
    """Coverage against the two limits: lines (one per max_false_alarm) and an annotated heat map.

    The lines show the trend, the heat map gives the exact coverage per cell, which is what a
    team comparing runs reads off first. ``highlight`` marks the deployed limits. A sweep with
    ``certified_coverage`` (`obstacles.thresholds.coverage_sweep` with a confidence) gets the
    certified coverage as dashed lines and a second heat map: what the guarantee costs per cell.
    """
    kinds = [("coverage", "empirical")]
    if "certified_coverage" in sweep:
        confidence = float(sweep["confidence"].iloc[0]) if "confidence" in sweep else None
        kinds.append(("certified_coverage", f"certified at {confidence:g}" if confidence else "certified"))
    tables = {
        column: sweep.pivot_table(index="max_false_alarm", columns="max_missed", values=column) for column, _ in kinds
    }
    fig = Figure(figsize=(5.5 * (1 + len(kinds)), 4.5), layout="constrained")
    line_ax, *heat_axes = fig.subplots(1, 1 + len(kinds))
    colours = {}
    for (column, label), style in zip(kinds, ("-", "--")):
        for max_false_alarm, row in tables[column].iterrows():
            name = f"max false alarm {max_false_alarm:g}" if style == "-" else None  # one entry per colour
            line = line_ax.plot(
                row.index, row.to_numpy(), marker="o", linestyle=style, color=colours.get(max_false_alarm), label=name
            )
            colours.setdefault(max_false_alarm, line[0].get_color())
    line_ax.set(
        xscale="log",
        xlabel="max missed-obstacle rate",
        ylabel="coverage (decided fraction)",
        ylim=(0, 1.02),
        title="coverage at the exact thresholds" + (f" (dashed: {kinds[1][1]})" if len(kinds) > 1 else ""),
    )
    line_ax.grid(alpha=0.3, which="both")
    line_ax.legend(fontsize="small")
    if highlight is not None:
        line_ax.axvline(highlight[0], color="grey", linestyle="--", linewidth=1)

    for heat_ax, (column, label) in zip(heat_axes, kinds):
        table = tables[column]
        image = heat_ax.imshow(table.to_numpy(), cmap="viridis", vmin=0, vmax=1, origin="lower", aspect="auto")
        heat_ax.set_xticks(range(table.shape[1]), [f"{v:g}" for v in table.columns])
        heat_ax.set_yticks(range(table.shape[0]), [f"{v:g}" for v in table.index])
        heat_ax.set(xlabel="max missed-obstacle rate", ylabel="max false-alarm rate", title=f"coverage, {label}")
        for (i, j), value in np.ndenumerate(table.to_numpy()):
            colour = "white" if value < 0.6 else "black"
            heat_ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize="small", color=colour)
        if highlight is not None and highlight[1] in table.index and highlight[0] in table.columns:
            i, j = table.index.get_loc(highlight[1]), table.columns.get_loc(highlight[0])
            heat_ax.add_patch(_cell_outline(j, i))
            heat_ax.set_title(f"coverage, {label} (red: the configured limits)")
        fig.colorbar(image, ax=heat_ax, shrink=0.8)
    fig.suptitle(title)
    return fig


def _cell_outline(x: int, y: int):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2)
