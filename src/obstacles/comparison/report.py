"""What a comparison puts out: the printed summary, the figure, the output folder and its W&B run.

`runs.csv`, `configurations.csv`, `pairs.csv`, `comparison.json` and `comparison.png` go into one
folder, replaced whole and atomically; the W&B run logs the same tables and picture.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
from pathlib import Path

from matplotlib.figure import Figure

from obstacles.comparison import stats
from obstacles.comparison.runs import ResultSpec
from obstacles.comparison.tables import METRICS, SELECTION_RULE, Comparison
from obstacles.infra.tracking import WandbSettings
from obstacles.io.outputs import atomic_dir, json_value, save_figure, write_text_atomic

RUNS_FILE = "runs.csv"
CONFIGURATIONS_FILE = "configurations.csv"
PAIRS_FILE = "pairs.csv"
REPORT_FILE = "comparison.json"
FIGURE_FILE = "comparison.png"
KEPT_ENTRIES = ("wandb",)  # earlier comparisons' offline W&B runs outlive a rerun


# --------------------------------------------------------------------------- text


def _fmt(value, digits: int = 4) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.{digits}f}"


def summary_text(result: Comparison, alpha: float) -> str:
    """What the command prints: per configuration mean ± sd (n), then each pair's verdict."""
    lines = []
    for key, by_metric in result.summaries.items():
        cells = []
        for m in METRICS:
            s = by_metric[m.name]
            spread = f"± {_fmt(s.sd)}" if s.sd is not None else "(no spread: fewer than 2 seeds)"
            cells.append(f"{m.title} {_fmt(s.mean)} {spread} (n={s.n})")
        lines.append(f"{result.labels[key]}: " + "; ".join(cells))
    lines.append(SELECTION_RULE)
    lines.append(f"pairs ({stats.TEST_DESCRIPTION}; alpha {alpha:g}):")
    titles = {m.name: m.title for m in METRICS}
    for row in result.pairs.itertuples(index=False):
        if row.test == stats.NO_TEST:
            lines.append(f"  {titles[row.metric]}: {row.b} - {row.a}: {row.note}")
            continue
        lines.append(
            f"  {titles[row.metric]}: {row.b} - {row.a} = {row.difference:+.4f} "
            f"[{row.confidence:.0%} CI {row.ci_low:+.4f}, {row.ci_high:+.4f}], {row.test} over "
            f"{row.n_shared if row.test == stats.PAIRED else f'{row.n_a}+{row.n_b}'} seeds, "
            f"p {row.p_value:.3g} (Holm {row.p_holm:.3g}): {row.verdict}" + (f" ({row.note})" if row.note else "")
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------- picture


def comparison_figure(result: Comparison, title: str = "") -> Figure:
    """One row per metric, one column per configuration: each seed's value as a dot (one colour
    per seed, so pairs show), mean ± sd as a black square and bar (no bar below 2 seeds)."""
    keys = list(result.summaries)
    seeds = sorted({seed for by_metric in result.summaries.values() for s in by_metric.values() for seed in s.values})
    colours = {seed: f"C{i % 10}" for i, seed in enumerate(seeds)}
    step = min(0.06, 0.5 / max(len(seeds), 1))
    offsets = {seed: 0.12 + i * step for i, seed in enumerate(seeds)}
    names = [result.labels[k] for k in keys]
    tilt = len(keys) > 3 or max(map(len, names)) > 24
    fig = Figure(
        figsize=(max(6.0, 1.6 * len(keys) + 2), 2.4 * len(METRICS) + (1.2 if tilt else 0.4)), layout="constrained"
    )
    axes = fig.subplots(len(METRICS), 1, sharex=True, squeeze=False)[:, 0]
    for ax, m in zip(axes, METRICS):
        for x, key in enumerate(keys):
            s = result.summaries[key][m.name]
            for seed, value in s.values.items():
                ax.scatter(x + offsets[seed], value, color=colours[seed], s=22, zorder=3, label=f"seed {seed}")
            if s.mean is not None:
                ax.errorbar(
                    x - 0.12,
                    s.mean,
                    yerr=s.sd,
                    fmt="s",
                    color="black",
                    capsize=4,
                    markersize=5,
                    zorder=2,
                    label="mean ± sd",
                )
            if s.n < 2:
                ax.annotate(
                    "no spread",
                    (x - 0.12, s.mean if s.mean is not None else 0),
                    fontsize="x-small",
                    xytext=(0, 8),
                    textcoords="offset points",
                    ha="center",
                    color="grey",
                )
        ax.set_ylabel(m.title)
        ax.grid(alpha=0.3, axis="y")
    axes[-1].set_xticks(
        range(len(keys)), names, rotation=25 if tilt else 0, ha="right" if tilt else "center", fontsize="small"
    )
    axes[-1].set_xlim(-0.6, len(keys) - 0.4)
    handles = {}
    for ax in axes:
        for handle, name in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(name, handle)
    if handles:
        ordered = sorted(
            handles, key=lambda n: (n.startswith("seed"), int(n.split()[1]) if n.startswith("seed") else 0)
        )
        fig.legend([handles[n] for n in ordered], ordered, loc="outside right upper", fontsize="small")
    if title:
        fig.suptitle(title, fontsize="medium")
    return fig


# --------------------------------------------------------------------------- outputs and W&B


def default_out_dir(folders: list[Path], experiments_dir: Path) -> Path:
    """Beside the one compared folder (<folder>/compare), else experiments_dir/compare."""
    return folders[0] / "compare" if len(folders) == 1 else experiments_dir / "compare"


def build_report(
    result: Comparison,
    skipped: list[dict],
    *,
    spec: ResultSpec,
    limits: dict[str, float],
    alpha: float,
    confidence: float,
) -> dict:
    """comparison.json's content: the settings, every configuration's summaries, pairs, runs, skips."""
    return {
        "test": stats.TEST_DESCRIPTION,
        "alpha": alpha,
        "confidence": confidence,
        "limits": limits,
        "coverage": spec.coverage,
        "pair": spec.pair,
        "metrics": {m.name: m.title for m in METRICS},
        "configurations": [
            {
                "configuration": result.labels[key],
                "config_key": key,
                **{m: s.to_dict() | {"values": {str(k): v for k, v in s.values.items()}} for m, s in by_metric.items()},
            }
            for key, by_metric in result.summaries.items()
        ],
        "pairs": [{k: json_value(v) for k, v in row.items()} for row in result.pairs.to_dict("records")],
        "runs": [{k: json_value(v) for k, v in row.items()} for row in result.runs.to_dict("records")],
        "skipped": skipped,
        "outputs": [RUNS_FILE, CONFIGURATIONS_FILE, PAIRS_FILE, FIGURE_FILE],
    }


def _report_text(report: dict) -> str:
    return json.dumps(report, indent=2, allow_nan=False) + "\n"


def write_outputs(out_dir: Path, result: Comparison, report: dict, title: str) -> None:
    """The whole output folder, renamed into place only once complete."""
    with atomic_dir(out_dir) as folder:
        write_text_atomic(folder / RUNS_FILE, result.runs.to_csv(index=False))
        write_text_atomic(folder / CONFIGURATIONS_FILE, result.configurations.to_csv(index=False))
        write_text_atomic(folder / PAIRS_FILE, result.pairs.to_csv(index=False))
        save_figure(comparison_figure(result, title), folder / FIGURE_FILE)
        write_text_atomic(folder / REPORT_FILE, _report_text(report))
        for name in KEPT_ENTRIES:
            if (out_dir / name).exists():
                shutil.move(str(out_dir / name), str(folder / name))


def write_report(out_dir: Path, report: dict) -> None:
    """comparison.json again, e.g. once it names its W&B run."""
    write_text_atomic(out_dir / REPORT_FILE, _report_text(report))


def log_to_wandb(
    wandb_settings: WandbSettings, out_dir: Path, result: Comparison, *, group: str | None, name: str, config: dict
) -> dict:
    """The same tables and picture into a W&B run of its own (job_type compare, the sweep's group).
    `wandb_settings`: conf/compare.yaml's `wandb` (obstacles.infra.tracking.wandb_run); `config`: the
    comparison's whole config as plain values, logged as the run's config."""
    from obstacles.infra.tracking import log_outputs, wandb_run

    attach = dataclasses.replace(wandb_settings, group=wandb_settings.group or group)
    wandb_dir = Path(wandb_settings.dir) if wandb_settings.dir else out_dir
    logged_config = {"compare": config, "test": stats.TEST_DESCRIPTION}
    with wandb_run(attach, wandb_dir, run_id=None, name=name, config=logged_config) as (run, record):
        log_outputs(
            run,
            wandb_settings.prefix,
            tables={"configurations": result.configurations, "pairs": result.pairs, "runs": result.runs},
            images={"figure": out_dir / FIGURE_FILE},
            summary={"n_configurations": len(result.configurations), "n_runs": len(result.runs)},
        )
    return record
