"""Compare configurations over seeds: `python -m obstacles.commands.compare runs=<sweep or run folders>`.

Thin entry point over `obstacles.comparison` (config: conf/compare.yaml). `runs` is a sweep folder
(its jobs), a run folder, or a list of them (default: the latest `NNN.*` in paths.experiments_dir).
Per configuration: mean, sd and per-seed values of val AUROC, eval AUROC and eval coverage; per
pair, whether the difference is larger than the seed noise. Writes runs.csv, configurations.csv,
pairs.csv, comparison.json and comparison.png into out_dir, then logs them to W&B.
"""

from __future__ import annotations

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
from obstacles.comparison.tables import compare_runs
from obstacles.infra.config import entry_point


def run(cfg: DictConfig) -> dict:
    """Everything the command does; returns comparison.json's content (+ `out_dir`)."""
    spec = ResultSpec(val_metric=cfg.val_metric, pair=cfg.pair, coverage=cfg.coverage)
    experiments_dir = Path(cfg.paths.experiments_dir)
    runs = OmegaConf.to_container(cfg.runs) if OmegaConf.is_list(cfg.runs) else cfg.runs
    folders = given_folders(runs, experiments_dir)
    tools = EvaluationTools.compose(
        list(cfg.evaluation.overrides),
        list(cfg.evaluation.thresholds_overrides),
        paths=OmegaConf.to_container(cfg.paths, resolve=True),
        limits=OmegaConf.to_container(cfg.limits, resolve=True),
        wandb=bool(cfg.evaluation.wandb),
    )
    results, skipped = collect(expand(folders), spec, tools, evaluate_missing=bool(cfg.evaluation.missing))
    if not results:
        raise SystemExit(f"error: no finished run to compare in {', '.join(map(str, folders))}")
    result = compare_runs(results, cfg.alpha, cfg.confidence)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else default_out_dir(folders, experiments_dir)
    group = shared_group(results)
    report = build_report(result, skipped, spec=spec, limits=tools.limits, alpha=cfg.alpha, confidence=cfg.confidence)
    write_outputs(out_dir, result, report, title=group or ", ".join(f.name for f in folders))
    print(summary_text(result, cfg.alpha))
    if cfg.wandb.enabled:
        config = OmegaConf.to_container(cfg, resolve=True)
        name = f"compare-{group or out_dir.parent.name}"
        report["wandb"] = log_to_wandb(cfg.wandb, out_dir, result, group=group, name=name, config=config)
        write_report(out_dir, report)
    print(f"outputs: {out_dir}")
    return {**report, "out_dir": str(out_dir)}


main = entry_point("compare", run)

if __name__ == "__main__":
    main()
