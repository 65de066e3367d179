"""Compare configurations over seeds: `python -m obstacles.commands.compare runs=<sweep or run folders>`.

Config: conf/compare.yaml. `runs` is a sweep folder (its jobs), a run folder, or a list of them
(default: the latest `NNN.*` folder in paths.experiments_dir). Only finished runs count (a
`run.json` completion record, obstacles.checkpoints.is_finished); others are skipped with the
reason printed. Each run is put in its configuration (obstacles.training.run_key: its overrides
minus `seed` and the keys a sweep job's folder name leaves out, the same `config_key` training
logs to W&B) under its seed, with three results read from its own records:

* val AUROC: `run.json` best_value, when the run optimised `val_metric` (val/auroc);
* eval AUROC: `<run>/eval/metrics.json` key `auroc`;
* eval coverage at the configured limits: `<run>/eval/thresholds.json`, of the empirical optimum
  (`pair: empirical`; `deployed` takes the certified pair) at the rounded thresholds (`coverage:
  exact` takes the exact ones).

A run without them is evaluated (`obstacles.evaluation.evaluate`, conf/evaluate.yaml) and
searched (`obstacles.thresholds`, conf/thresholds.yaml) in this process first, when
`evaluation.missing` (the default). Per configuration: mean, sd and per-seed values; per pair,
whether the difference is larger than the seed noise (obstacles.comparison: a paired t-test over
shared seeds, else Welch's, Holm-adjusted; with fewer than 2 seeds no spread is estimated). Writes
`runs.csv`, `configurations.csv`, `pairs.csv`, `comparison.json` and `comparison.png` into out_dir
(replaced whole, atomically), then logs the same tables and picture to W&B.
"""

from __future__ import annotations

import copy
import json
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from omegaconf import DictConfig, ListConfig, OmegaConf

from obstacles import comparison
from obstacles.checkpoints import is_finished, numbered_runs
from obstacles.commands.thresholds import THRESHOLDS_FILE
from obstacles.commands.thresholds import run as search_thresholds
from obstacles.config import CONF_DIR, compose, entry_point
from obstacles.evaluation.report import METRICS_FILE as EVAL_METRICS_FILE
from obstacles.evaluation.report import PREDICTIONS_FILE as EVAL_PREDICTIONS_FILE
from obstacles.io.outputs import atomic_dir, save_figure, write_text_atomic
from obstacles.training.run_dir import CHECKPOINTS_DIR, CONFIG_DIR, RUN_RECORD
from obstacles.training.run_key import key_items, latest_config_dir, saved_config_key

RUNS_FILE = "runs.csv"
CONFIGURATIONS_FILE = "configurations.csv"
PAIRS_FILE = "pairs.csv"
REPORT_FILE = "comparison.json"
FIGURE_FILE = "comparison.png"
COVERAGE_KINDS = ("rounded", "exact")  # at the rounded (deployable) thresholds, or the exact ones
COVERAGE_PAIRS = ("empirical", "deployed")  # thresholds.json's `empirical` optimum, or its top-level pair
KEPT_ENTRIES = ("wandb",)  # earlier comparisons' offline W&B runs outlive a rerun
DEFAULT_EXCLUDE_KEYS = OmegaConf.load(
    Path(CONF_DIR) / "hydra" / "default.yaml"
).job.config.override_dirname.exclude_keys


@dataclass(frozen=True)
class Metric:
    name: str  # column prefix
    title: str  # picture and printout


# Choosing a setting is tuning: it must not look at the split that reports (DESIGN section 2.4).
SELECTION_RULE = (
    "choose a setting on val AUROC; eval AUROC and coverage are the report on the held-out "
    "split (choosing by them would flatter the number that is shipped)"
)
METRICS = (
    Metric("val_auroc", "val AUROC"),
    Metric("eval_auroc", "eval AUROC"),
    Metric("eval_coverage", "eval coverage"),
)


@dataclass
class RunResult:
    run_dir: Path
    config_key: str
    seed: int
    wandb_group: str | None
    values: dict[str, float | None] = field(default_factory=dict)


# --------------------------------------------------------------------------- which runs


def is_run_dir(path: Path) -> bool:
    """A run (or sweep job) folder, finished or not."""
    return any((path / name).exists() for name in (RUN_RECORD, CONFIG_DIR, CHECKPOINTS_DIR))


def _job_order(path: Path) -> tuple[float, str]:
    number = path.name.split(".", 1)[0]
    return (int(number) if number.isdigit() else math.inf, path.name)


def given_folders(runs, experiments_dir: Path) -> list[Path]:
    """`runs` as folders: as given, else inside experiments_dir; null = the latest NNN.* there."""
    if runs is None:
        latest = numbered_runs(experiments_dir)
        if not latest:
            raise FileNotFoundError(f"no run folders (NNN.*) in {experiments_dir}: pass runs=<sweep or run folder>")
        return [latest[0]]
    names = [runs] if isinstance(runs, str) else list(runs)
    folders = []
    for name in map(str, names):
        path = Path(name)
        if not path.is_dir() and (experiments_dir / name).is_dir():
            path = experiments_dir / name
        if not path.is_dir():
            raise FileNotFoundError(f"runs: {name} is no folder (looked here and in {experiments_dir})")
        folders.append(path)
    return folders


def expand(folders: list[Path]) -> list[Path]:
    """Run folders: a run as itself, a sweep as its jobs (in job order); each once."""
    runs, seen = [], set()
    for folder in folders:
        inside = (p for p in folder.iterdir() if p.is_dir() and is_run_dir(p))
        jobs = [folder] if is_run_dir(folder) else sorted(inside, key=_job_order)
        if not jobs:
            raise FileNotFoundError(
                f"{folder}: neither a run folder ({RUN_RECORD}, {CONFIG_DIR}/) nor a sweep holding runs"
            )
        for job in jobs:
            if job.resolve() not in seen:
                seen.add(job.resolve())
                runs.append(job)
    return runs


# --------------------------------------------------------------------------- each run's results


def compose_tool(name: str, overrides) -> DictConfig:
    """A tool's config as its entry point composes it, also from inside this entry point."""
    from hydra.core.global_hydra import GlobalHydra

    if GlobalHydra.instance().is_initialized():  # in `python -m obstacles.commands.compare`: Hydra runs on CONF_DIR
        import hydra

        return hydra.compose(config_name=name, overrides=list(overrides))
    return compose(name, list(overrides))


@dataclass(frozen=True)
class Tools:
    """The evaluation and threshold-search configs, composed once; each run fills in its paths."""

    evaluate: DictConfig
    thresholds: DictConfig
    limits: dict[str, float]

    @classmethod
    def compose(cls, cfg: DictConfig) -> Tools:
        evaluate = compose_tool("evaluate", cfg.evaluation.overrides)
        thresholds = compose_tool("thresholds", cfg.evaluation.thresholds_overrides)
        paths = OmegaConf.to_container(cfg.paths, resolve=True)
        evaluate.paths = paths  # the compare command's paths: where the runs' datasets are
        for key in ("max_missed", "max_false_alarm"):
            if cfg.limits[key] is not None:
                thresholds.limits[key] = cfg.limits[key]
        for tool in (evaluate, thresholds):
            tool.logger.enabled = bool(cfg.evaluation.wandb)
        limits = {key: float(thresholds.limits[key]) for key in ("max_missed", "max_false_alarm")}
        return cls(evaluate, thresholds, limits)

    def eval_dir(self, run_dir: Path) -> Path:
        return run_dir / self.evaluate.run.eval_subdir


def complete_evaluation(cfg: DictConfig, tools: Tools, run_dir: Path) -> None:
    """Evaluate and search thresholds for a run that lacks them (in this process)."""
    eval_dir = tools.eval_dir(run_dir)
    if not (eval_dir / EVAL_METRICS_FILE).is_file():
        from obstacles.evaluation import evaluate

        print(f"{run_dir.name}: no {EVAL_METRICS_FILE}: evaluating it")
        job = copy.deepcopy(tools.evaluate)
        job.run_dir, job.ckpt_path, job.out_dir = str(run_dir), None, None
        evaluate(job)
    if not (eval_dir / THRESHOLDS_FILE).is_file() and (eval_dir / EVAL_PREDICTIONS_FILE).is_file():
        print(f"{run_dir.name}: no {THRESHOLDS_FILE}: searching the thresholds")
        job = copy.deepcopy(tools.thresholds)
        job.predictions, job.out_dir = str(eval_dir / EVAL_PREDICTIONS_FILE), None
        search_thresholds(job)


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def read_values(cfg: DictConfig, tools: Tools, run_dir: Path, record: dict) -> dict[str, float | None]:
    """The run's three results from its own files; what is missing is None, with the reason printed."""
    values = {}
    if record.get("optimized_metric") == cfg.val_metric:
        values["val_auroc"] = _number(record.get("best_value"))
    else:
        values["val_auroc"] = None
        print(f"{run_dir.name}: optimised {record.get('optimized_metric')}, not {cfg.val_metric}: no val AUROC")
    eval_dir = tools.eval_dir(run_dir)
    metrics = _read_json(eval_dir / EVAL_METRICS_FILE)
    values["eval_auroc"] = _number(metrics.get("auroc")) if metrics else None
    if metrics is None:
        print(f"{run_dir.name}: no {eval_dir / EVAL_METRICS_FILE}: no eval AUROC")
    found = _read_json(eval_dir / THRESHOLDS_FILE)
    values["eval_coverage"] = None
    if found is None:
        print(f"{run_dir.name}: no {eval_dir / THRESHOLDS_FILE}: no eval coverage")
    elif not all(math.isclose(float(found["limits"][k]), v) for k, v in tools.limits.items()):
        print(
            f"{run_dir.name}: {THRESHOLDS_FILE} was searched at {found['limits']}, not {tools.limits}: no eval coverage "
            "(search again with python -m obstacles.commands.thresholds, or set limits.* to match)"
        )
    else:
        values["eval_coverage"] = _number(coverage_of(found, cfg.pair, cfg.coverage))
    return values


def coverage_of(thresholds: dict, pair: str, kind: str) -> float:
    """Coverage in a thresholds.json: of the `empirical` optimum (what varies with a setting; on a few
    hundred eval images the certified pair may decide nothing for every run) or of the `deployed` pair
    (certified when the search was), at the `rounded` or `exact` thresholds."""
    if pair == "empirical" and "empirical" in thresholds:
        block = thresholds["empirical"]
        return block["coverage_rounded"] if kind == "rounded" else block["coverage"]
    return thresholds["rounded"]["coverage"] if kind == "rounded" else thresholds["coverage"]


def read_run(cfg: DictConfig, tools: Tools, run_dir: Path) -> RunResult | str:
    """The run's configuration, seed and results, or why it does not count."""
    if not is_finished(run_dir):
        return f"no {RUN_RECORD}, so its training did not finish (interrupted, killed or still running)"
    try:
        key = saved_config_key(run_dir, DEFAULT_EXCLUDE_KEYS)
    except FileNotFoundError as error:
        return str(error)
    config_file = latest_config_dir(run_dir) / "config.yaml"
    seed = OmegaConf.load(config_file).get("seed") if config_file.is_file() else None
    if not isinstance(seed, int):
        return f"no integer seed in {config_file} ({seed!r}): it cannot be paired with other runs"
    if cfg.evaluation.missing:
        try:
            complete_evaluation(cfg, tools, run_dir)
        except Exception as error:  # one run that cannot be evaluated leaves the others comparable
            print(f"{run_dir.name}: evaluation failed: {type(error).__name__}: {error}")
    record = json.loads((run_dir / RUN_RECORD).read_text())
    return RunResult(run_dir, key, seed, record.get("wandb_group"), read_values(cfg, tools, run_dir, record))


def collect(cfg: DictConfig, run_dirs: list[Path], tools: Tools) -> tuple[list[RunResult], list[dict]]:
    """Finished runs (one per configuration and seed: a repeat replaces an earlier one) and the skipped."""
    results: dict[tuple[str, int], RunResult] = {}
    skipped = []
    for run_dir in run_dirs:
        result = read_run(cfg, tools, run_dir)
        if isinstance(result, str):
            print(f"skipping {run_dir}: {result}")
            skipped.append({"run": str(run_dir), "reason": result})
            continue
        earlier = results.pop((result.config_key, result.seed), None)
        if earlier is not None:
            reason = f"seed {result.seed} of the same configuration again in {result.run_dir}, which is kept"
            print(f"skipping {earlier.run_dir}: {reason}")
            skipped.append({"run": str(earlier.run_dir), "reason": reason})
        results[(result.config_key, result.seed)] = result
    return list(results.values()), skipped


# --------------------------------------------------------------------------- tables


def labels(keys: list[str]) -> dict[str, str]:
    """Each key's overrides that not every compared configuration shares (its short name)."""
    items = {key: key_items(key) for key in keys}
    common = set.intersection(*(set(v) for v in items.values())) if items else set()
    short = {key: ",".join(i for i in parts if i not in common) for key, parts in items.items()}
    return {key: short[key] or key or "(no overrides)" for key in keys}


@dataclass(frozen=True)
class Comparison:
    runs: pd.DataFrame
    configurations: pd.DataFrame
    pairs: pd.DataFrame
    summaries: dict[str, dict[str, comparison.Summary]]  # config key -> metric -> summary
    labels: dict[str, str]


def compare_runs(results: list[RunResult], alpha: float, confidence: float) -> Comparison:
    """Per configuration (first-seen order) the summaries; per metric and pair the test."""
    keys = list(dict.fromkeys(r.config_key for r in results))
    names = labels(keys)
    runs = pd.DataFrame(
        [
            {
                "run": str(r.run_dir),
                "configuration": names[r.config_key],
                "config_key": r.config_key,
                "seed": r.seed,
                **{m.name: r.values.get(m.name) for m in METRICS},
            }
            for r in results
        ],
        columns=["run", "configuration", "config_key", "seed", *(m.name for m in METRICS)],
    )
    summaries, rows = {}, []
    for key in keys:
        mine = [r for r in results if r.config_key == key]
        summaries[key] = {m.name: comparison.summarize({r.seed: r.values.get(m.name) for r in mine}) for m in METRICS}
        row = {
            "configuration": names[key],
            "config_key": key,
            "runs": len(mine),
            "seeds": ",".join(str(s) for s in sorted(r.seed for r in mine)),
        }
        for m in METRICS:
            s = summaries[key][m.name]
            row.update(
                {
                    f"{m.name}_n": s.n,
                    f"{m.name}_mean": s.mean,
                    f"{m.name}_sd": s.sd,
                    f"{m.name}_values": json.dumps({str(k): v for k, v in s.values.items()}),
                }
            )
        rows.append(row)
    pair_rows = []
    for m in METRICS:
        tests = []
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                values = (summaries[a][m.name].values, summaries[b][m.name].values)
                tests.append((a, b, comparison.compare(*values, confidence=confidence)))
        adjusted = comparison.holm([test.p_value for _, _, test in tests])
        for (a, b, test), p_holm in zip(tests, adjusted):
            pair_rows.append(
                {
                    "metric": m.name,
                    "a": names[a],
                    "b": names[b],
                    **test.to_dict(),
                    "confidence": confidence,
                    "p_holm": p_holm,
                    "verdict": comparison.verdict(p_holm, alpha),
                    "config_key_a": a,
                    "config_key_b": b,
                }
            )
    pairs = pd.DataFrame(
        pair_rows,
        columns=[
            "metric",
            "a",
            "b",
            "test",
            "n_a",
            "n_b",
            "n_shared",
            "difference",
            "ci_low",
            "ci_high",
            "confidence",
            "t",
            "df",
            "p_value",
            "p_holm",
            "verdict",
            "note",
            "config_key_a",
            "config_key_b",
        ],
    )
    return Comparison(runs, pd.DataFrame(rows), pairs, summaries, names)


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
    lines.append(f"pairs ({comparison.TEST_DESCRIPTION}; alpha {alpha:g}):")
    titles = {m.name: m.title for m in METRICS}
    for row in result.pairs.itertuples(index=False):
        if row.test == comparison.NO_TEST:
            lines.append(f"  {titles[row.metric]}: {row.b} - {row.a}: {row.note}")
            continue
        lines.append(
            f"  {titles[row.metric]}: {row.b} - {row.a} = {row.difference:+.4f} "
            f"[{row.confidence:.0%} CI {row.ci_low:+.4f}, {row.ci_high:+.4f}], {row.test} over "
            f"{row.n_shared if row.test == comparison.PAIRED else f'{row.n_a}+{row.n_b}'} seeds, "
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
    return folders[0] / "compare" if len(folders) == 1 else experiments_dir / "compare"


def write_outputs(out_dir: Path, result: Comparison, report: dict, title: str) -> None:
    """The whole output folder, renamed into place only once complete."""
    with atomic_dir(out_dir) as folder:
        write_text_atomic(folder / RUNS_FILE, result.runs.to_csv(index=False))
        write_text_atomic(folder / CONFIGURATIONS_FILE, result.configurations.to_csv(index=False))
        write_text_atomic(folder / PAIRS_FILE, result.pairs.to_csv(index=False))
        save_figure(comparison_figure(result, title), folder / FIGURE_FILE)
        write_text_atomic(folder / REPORT_FILE, json.dumps(report, indent=2, allow_nan=False) + "\n")
        for name in KEPT_ENTRIES:
            if (out_dir / name).exists():
                shutil.move(str(out_dir / name), str(folder / name))


def _table(frame: pd.DataFrame):
    import wandb

    return wandb.Table(dataframe=frame.astype(object).where(frame.notna(), None))


def log_to_wandb(cfg: DictConfig, out_dir: Path, result: Comparison, group: str | None, name: str) -> dict:
    """The same tables and picture into a W&B run of its own (job_type compare, the sweep's group)."""
    import wandb

    from obstacles.tracking import wandb_run

    logger = copy.deepcopy(cfg.logger)
    logger.group = cfg.logger.group or group
    wandb_dir = Path(cfg.logger.dir) if cfg.logger.dir else out_dir
    config = {"compare": OmegaConf.to_container(cfg, resolve=True), "test": comparison.TEST_DESCRIPTION}
    with wandb_run(logger, wandb_dir, run_id=None, name=name, config=config) as (run, record):
        prefix = cfg.logger.prefix
        run.log(
            {
                f"{prefix}/configurations": _table(result.configurations),
                f"{prefix}/pairs": _table(result.pairs),
                f"{prefix}/runs": _table(result.runs),
                f"{prefix}/figure": wandb.Image(str(out_dir / FIGURE_FILE)),
            }
        )
        run.summary.update(
            {f"{prefix}/n_configurations": len(result.configurations), f"{prefix}/n_runs": len(result.runs)}
        )
    return record


def _plain(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def run(cfg: DictConfig) -> dict:
    """Everything the command does; returns comparison.json's content (+ `out_dir`)."""
    if cfg.coverage not in COVERAGE_KINDS:
        raise ValueError(f"coverage={cfg.coverage}: must be one of {list(COVERAGE_KINDS)}")
    if cfg.pair not in COVERAGE_PAIRS:
        raise ValueError(f"pair={cfg.pair}: must be one of {list(COVERAGE_PAIRS)}")
    experiments_dir = Path(cfg.paths.experiments_dir)
    runs = OmegaConf.to_container(cfg.runs) if isinstance(cfg.runs, ListConfig) else cfg.runs
    folders = given_folders(runs, experiments_dir)
    tools = Tools.compose(cfg)
    results, skipped = collect(cfg, expand(folders), tools)
    if not results:
        raise SystemExit(f"error: no finished run to compare in {', '.join(map(str, folders))}")
    result = compare_runs(results, cfg.alpha, cfg.confidence)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else default_out_dir(folders, experiments_dir)
    groups = {r.wandb_group for r in results}
    group = groups.pop() if len(groups) == 1 else None
    title = group or ", ".join(f.name for f in folders)
    report = {
        "test": comparison.TEST_DESCRIPTION,
        "alpha": cfg.alpha,
        "confidence": cfg.confidence,
        "limits": tools.limits,
        "coverage": cfg.coverage,
        "pair": cfg.pair,
        "metrics": {m.name: m.title for m in METRICS},
        "configurations": [
            {
                "configuration": result.labels[key],
                "config_key": key,
                **{m: s.to_dict() | {"values": {str(k): v for k, v in s.values.items()}} for m, s in by_metric.items()},
            }
            for key, by_metric in result.summaries.items()
        ],
        "pairs": [{k: _plain(v) for k, v in row.items()} for row in result.pairs.to_dict("records")],
        "runs": [{k: _plain(v) for k, v in row.items()} for row in result.runs.to_dict("records")],
        "skipped": skipped,
        "outputs": [RUNS_FILE, CONFIGURATIONS_FILE, PAIRS_FILE, FIGURE_FILE],
    }
    write_outputs(out_dir, result, report, title)
    print(summary_text(result, cfg.alpha))
    if cfg.logger.enabled:
        report["wandb"] = log_to_wandb(cfg, out_dir, result, group, f"compare-{group or out_dir.parent.name}")
        write_text_atomic(out_dir / REPORT_FILE, json.dumps(report, indent=2, allow_nan=False) + "\n")
    print(f"outputs: {out_dir}")
    return {**report, "out_dir": str(out_dir)}


main = entry_point("compare", run)

if __name__ == "__main__":
    main()
