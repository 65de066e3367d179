"""Compare configurations over seeds: `python -m obstacles.commands.compare runs=<sweep or run folders>`.

Thin entry point over `obstacles.comparison` (config: conf/compare.yaml, filling
`obstacles.comparison.settings.CompareSettings`). `runs` is a sweep folder
(its jobs), a run folder, or a list of them (default: the latest `NNN.*` in paths.experiments_dir).
Per configuration: mean, sd and per-seed values of val AUROC, eval AUROC and eval coverage; per
pair, whether the difference is larger than the seed noise. Writes runs.csv, configurations.csv,
pairs.csv, comparison.json and comparison.png into out_dir, then logs them to W&B.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from obstacles.comparison.report import (
    build_report,
    default_out_dir,
    log_to_wandb,
    summary_text,
    write_outputs,
    write_report,
)
from obstacles.comparison.runs import EvaluationTools, ResultSpec, collect, expand, given_folders, shared_group
from obstacles.comparison.settings import CompareSettings
from obstacles.comparison.tables import compare_runs
from obstacles.infra.config import entry_point


def run(cfg: DictConfig) -> dict:
    """Everything the command does; returns comparison.json's content (+ `out_dir`)."""
    settings: CompareSettings = OmegaConf.to_object(cfg)
    spec = ResultSpec(val_metric=settings.val_metric, pair=settings.pair, coverage=settings.coverage)
    experiments_dir = Path(settings.paths["experiments_dir"])
    folders = given_folders(settings.runs, experiments_dir)
    tools = EvaluationTools.from_settings(settings)
    results, skipped = collect(expand(folders), spec, tools, evaluate_missing=settings.evaluation.missing)
    if not results:
        raise SystemExit(f"error: no finished run to compare in {', '.join(map(str, folders))}")
    result = compare_runs(results, settings.alpha, settings.interval_level)
    out_dir = Path(settings.out_dir) if settings.out_dir else default_out_dir(folders, experiments_dir)
    group = shared_group(results)
    report = build_report(
        result, skipped, spec=spec, limits=tools.limits, alpha=settings.alpha, confidence=settings.interval_level
    )
    write_outputs(out_dir, result, report, title=group or ", ".join(f.name for f in folders))
    print(summary_text(result, settings.alpha))
    if settings.wandb.enabled:
        name = f"compare-{group or out_dir.parent.name}"
        report["wandb"] = log_to_wandb(settings.wandb, out_dir, result, group=group, name=name, config=asdict(settings))
        write_report(out_dir, report)
    print(f"outputs: {out_dir}")
    return {**report, "out_dir": str(out_dir)}


main = entry_point("compare", run)

if __name__ == "__main__":
    main()
