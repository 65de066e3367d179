"""Pictures of the weight curve and of the weights the training split gets.

Drawn with few artists (one filled outline per histogram) and constrained layout, which lays
the figure out as it draws instead of rendering it an extra time: half the time of bar
histograms with tight_layout, the same picture.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from obstacles.weights.curve import diff_coef

HIST_BINS = 30


def weight_curve(table: pd.DataFrame, is_obstacle: np.ndarray, *, alfa, beta, gamma, swc) -> Figure:
    """sample_weight against sigma_dist: the configured curve, and where each image falls on it."""
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    span = max(3.0, float(np.abs(table["sigma_dist"]).max()) if len(table) else 3.0)
    sigma = np.linspace(-span, span, 400)
    ax.plot(sigma, 1 + swc * diff_coef(sigma, alfa, beta, gamma), color="black", lw=2, label="weight curve")
    for mask, name, colour in ((is_obstacle, "obstacle", "tab:red"), (~is_obstacle, "no_obstacle", "tab:blue")):
        ax.scatter(table["sigma_dist"][mask], table["sample_weight"][mask], s=10, alpha=0.5, color=colour, label=name)
    ax.axvline(beta / alfa, ls="--", color="grey", lw=1, label=f"half weight at {beta / alfa:.2f}")
    ax.set(
        xlabel="sigma_dist (signed distance past the class threshold, in stds)",
        ylabel="sample_weight",
        title=f"alfa={alfa}, beta={beta}, gamma={gamma}, swc={swc}",
    )
    ax.legend(loc="best", fontsize=8)
    return fig


def weight_distribution(table: pd.DataFrame, is_obstacle: np.ndarray) -> Figure:
    """Per class: diff_metric with the class threshold, and the resulting weights."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    # One set of bins for both classes, so neither hides behind the other.
    metric_bins = np.linspace(0.0, 1.0, HIST_BINS + 1)
    weight_bins = np.linspace(1.0, max(float(table["sample_weight"].max()), 1.0) + 1e-9, HIST_BINS + 1)
    for mask, name, colour in ((is_obstacle, "obstacle", "tab:red"), (~is_obstacle, "no_obstacle", "tab:blue")):
        part = table[mask]
        if part.empty:
            continue
        axes[0].hist(part["diff_metric"], bins=metric_bins, histtype="stepfilled", alpha=0.5, color=colour, label=name)
        axes[0].axvline(part["diff_threshold"].iloc[0], color=colour, ls="--", lw=1)
        axes[1].hist(
            part["sample_weight"], bins=weight_bins, histtype="stepfilled", alpha=0.5, color=colour, label=name
        )
    axes[0].set(xlabel="diff_metric (dashed: class diff_threshold)", ylabel="images")
    axes[1].set(xlabel="sample_weight", ylabel="images")
    for ax in axes:
        ax.legend(fontsize=8)
    return fig
