"""Which runs are compared, and each run's results read from its own records.

Only finished runs count (a `run.json` completion record, obstacles.runs.lookup.is_finished); the
others are skipped with the reason printed. Each run is put in its configuration
(obstacles.runs.key: its overrides minus `seed` and the keys a sweep job's folder name
leaves out, the same `config_key` training logs to W&B) under its seed, with three results:

* val AUROC: `run.json` best_value, when the run optimised `val_metric` (val/auroc);
* eval AUROC: `<run>/eval/metrics.json` key `auroc`;
* eval coverage at the configured limits: `<run>/eval/thresholds.json`, of the empirical optimum
  (`pair: empirical`; `deployed` takes the certified pair) at the rounded thresholds (`coverage:
  exact` takes the exact ones).

A run without them can be evaluated (`obstacles.evaluation.evaluate`) and searched
(`obstacles.thresholds.job.search_thresholds`) in this process first, with the settings of
conf/compare.yaml's `evaluation.evaluate` and `evaluation.thresholds` (`EvaluationTools`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.comparison.settings import CompareSettings
from obstacles.evaluation.report import METRICS_FILE as EVAL_METRICS_FILE
from obstacles.evaluation.report import PREDICTIONS_FILE as EVAL_PREDICTIONS_FILE
from obstacles.evaluation.settings import EvaluateSettings
from obstacles.infra.config import CONF_DIR
from obstacles.runs.key import latest_config_dir, saved_config_key
from obstacles.runs.layout import CHECKPOINTS_DIR, CONFIG_DIR, CONFIG_FILE, EVAL_DIR, RUN_RECORD
from obstacles.runs.lookup import is_finished, numbered_runs
from obstacles.thresholds.job import THRESHOLDS_FILE, search_thresholds
from obstacles.thresholds.settings import ThresholdsSettings

COVERAGE_KINDS = ("rounded", "exact")  # at the rounded (deployable) thresholds, or the exact ones
COVERAGE_PAIRS = ("empirical", "deployed")  # thresholds.json's `empirical` optimum, or its top-level pair
LIMIT_KEYS = ("max_missed", "max_false_alarm")
# What a run that saved only overrides.yaml (no hydra.yaml) leaves out of its key: training's default.
DEFAULT_EXCLUDE_KEYS = OmegaConf.load(
    Path(CONF_DIR) / "hydra" / "default.yaml"
).job.config.override_dirname.exclude_keys


@dataclass(frozen=True)
class ResultSpec:
    """Which recorded numbers are a run's results (conf/compare.yaml: val_metric, pair, coverage)."""

    val_metric: str
    pair: str = "empirical"
    coverage: str = "rounded"

    def __post_init__(self) -> None:
        if self.coverage not in COVERAGE_KINDS:
            raise ValueError(f"coverage={self.coverage}: must be one of {list(COVERAGE_KINDS)}")
        if self.pair not in COVERAGE_PAIRS:
            raise ValueError(f"pair={self.pair}: must be one of {list(COVERAGE_PAIRS)}")


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


def given_folders(runs: str | list | None, experiments_dir: Path) -> list[Path]:
    """`runs` as folders: as given, else inside experiments_dir; None = the latest NNN.* there."""
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


# --------------------------------------------------------------------------- completing a run's evaluation


@dataclass(frozen=True)
class EvaluationTools:
    """The evaluation and threshold-search settings every compared run is completed with; each run
    sets its own folder and predictions."""

    evaluate: EvaluateSettings
    thresholds: ThresholdsSettings

    @classmethod
    def from_settings(cls, settings: CompareSettings) -> EvaluationTools:
        """conf/compare.yaml's `evaluation.evaluate` and `evaluation.thresholds`, with the comparison's
        own `paths` (where the runs' datasets are), `limits` (None keeps the threshold search's) and
        `evaluation.wandb` (whether both log into each run's W&B run, as the tools do)."""
        evaluation = settings.evaluation
        evaluate, thresholds = evaluation.evaluate, evaluation.thresholds
        limits = {key: getattr(settings.limits, key) for key in LIMIT_KEYS if getattr(settings.limits, key) is not None}
        return cls(
            replace(evaluate, paths=settings.paths, wandb=replace(evaluate.wandb, enabled=evaluation.wandb)),
            replace(
                thresholds,
                limits=replace(thresholds.limits, **limits),
                wandb=replace(thresholds.wandb, enabled=evaluation.wandb),
            ),
        )

    @property
    def limits(self) -> dict[str, float]:
        """The limits a run's thresholds.json must have been searched at for its coverage to count."""
        return {key: float(getattr(self.thresholds.limits, key)) for key in LIMIT_KEYS}

    def eval_dir(self, run_dir: Path) -> Path:
        return run_dir / EVAL_DIR


def complete_evaluation(tools: EvaluationTools, run_dir: Path) -> None:
    """Evaluate and search thresholds for a run that lacks them (in this process)."""
    eval_dir = tools.eval_dir(run_dir)
    if not (eval_dir / EVAL_METRICS_FILE).is_file():
        from obstacles.evaluation.job import evaluate

        print(f"{run_dir.name}: no {EVAL_METRICS_FILE}: evaluating it")
        evaluate(replace(tools.evaluate, run_dir=str(run_dir), ckpt_path=None, out_dir=None))
    if not (eval_dir / THRESHOLDS_FILE).is_file() and (eval_dir / EVAL_PREDICTIONS_FILE).is_file():
        print(f"{run_dir.name}: no {THRESHOLDS_FILE}: searching the thresholds")
        search_thresholds(replace(tools.thresholds, predictions=str(eval_dir / EVAL_PREDICTIONS_FILE), out_dir=None))


# --------------------------------------------------------------------------- each run's results


def _read_json(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def coverage_of(thresholds: dict, pair: str, kind: str) -> float:
    """Coverage in a thresholds.json: of the `empirical` optimum (what varies with a setting; on a few
    hundred eval images the certified pair may decide nothing for every run) or of the `deployed` pair
    (certified when the search was), at the `rounded` or `exact` thresholds."""
    if pair == "empirical" and "empirical" in thresholds:
        block = thresholds["empirical"]
        return block["coverage_rounded"] if kind == "rounded" else block["coverage"]
    return thresholds["rounded"]["coverage"] if kind == "rounded" else thresholds["coverage"]


def read_values(
    run_dir: Path, record: dict, *, eval_dir: Path, spec: ResultSpec, limits: Mapping[str, float]
) -> dict[str, float | None]:
    """The run's three results from its record (`run.json`) and eval_dir's files, the coverage only
    when searched at `limits`; what is missing is None, with the reason printed."""
    values = {}
    if record.get("optimized_metric") == spec.val_metric:
        values["val_auroc"] = _number(record.get("best_value"))
    else:
        values["val_auroc"] = None
        print(f"{run_dir.name}: optimised {record.get('optimized_metric')}, not {spec.val_metric}: no val AUROC")
    metrics = _read_json(eval_dir / EVAL_METRICS_FILE)
    values["eval_auroc"] = _number(metrics.get("auroc")) if metrics else None
    if metrics is None:
        print(f"{run_dir.name}: no {eval_dir / EVAL_METRICS_FILE}: no eval AUROC")
    found = _read_json(eval_dir / THRESHOLDS_FILE)
    values["eval_coverage"] = None
    if found is None:
        print(f"{run_dir.name}: no {eval_dir / THRESHOLDS_FILE}: no eval coverage")
    elif not all(math.isclose(float(found["limits"][k]), v) for k, v in limits.items()):
        print(
            f"{run_dir.name}: {THRESHOLDS_FILE} was searched at {found['limits']}, not {dict(limits)}: no eval coverage "
            "(search again with python -m obstacles.commands.thresholds, or set limits.* to match)"
        )
    else:
        values["eval_coverage"] = _number(coverage_of(found, spec.pair, spec.coverage))
    return values


def read_run(spec: ResultSpec, tools: EvaluationTools, run_dir: Path, *, evaluate_missing: bool) -> RunResult | str:
    """The run's configuration, seed and results, or why it does not count."""
    if not is_finished(run_dir):
        return f"no {RUN_RECORD}, so its training did not finish (interrupted, killed or still running)"
    try:
        key = saved_config_key(run_dir, DEFAULT_EXCLUDE_KEYS)
    except FileNotFoundError as error:
        return str(error)
    config_file = latest_config_dir(run_dir) / CONFIG_FILE
    seed = OmegaConf.load(config_file).get("seed") if config_file.is_file() else None
    if not isinstance(seed, int):
        return f"no integer seed in {config_file} ({seed!r}): it cannot be paired with other runs"
    if evaluate_missing:
        try:
            complete_evaluation(tools, run_dir)
        except Exception as error:  # one run that cannot be evaluated leaves the others comparable
            print(f"{run_dir.name}: evaluation failed: {type(error).__name__}: {error}")
    record = json.loads((run_dir / RUN_RECORD).read_text())
    values = read_values(run_dir, record, eval_dir=tools.eval_dir(run_dir), spec=spec, limits=tools.limits)
    return RunResult(run_dir, key, seed, record.get("wandb_group"), values)


def collect(
    run_dirs: list[Path], spec: ResultSpec, tools: EvaluationTools, *, evaluate_missing: bool = True
) -> tuple[list[RunResult], list[dict]]:
    """Finished runs (one per configuration and seed: a repeat replaces an earlier one) and the skipped."""
    results: dict[tuple[str, int], RunResult] = {}
    skipped = []
    for run_dir in run_dirs:
        result = read_run(spec, tools, run_dir, evaluate_missing=evaluate_missing)
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


def shared_group(results: list[RunResult]) -> str | None:
    """The runs' W&B group (the sweep's) when they all share one, else None."""
    groups = {r.wandb_group for r in results}
    return groups.pop() if len(groups) == 1 else None
