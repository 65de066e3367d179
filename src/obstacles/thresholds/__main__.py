"""`python -m obstacles.thresholds predictions=<predictions.csv>`: search, sweep, plot, log.

Writes into ``out_dir`` (default: the predictions file's folder) ``coverage_sweep.csv``,
``risk_coverage.png``, ``thresholds.provenance.json`` (what produced them: predictions, checkpoint,
hashes, commit, W&B run) and, last, ``thresholds.json`` (numbers only: the DVC metric runs are
compared by); every file goes through a temp file and ``os.replace`` so an interrupted run never
leaves one that looks complete. Then logs the same to W&B (offline unless WANDB_MODE says
otherwise), optionally into an existing run, and records that run in the provenance file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from obstacles.config import entry_point
from obstacles.io.outputs import write_text_atomic
from obstacles.io.predictions import read_predictions
from obstacles.io.provenance import file_sha256, folder_wandb_run_id, git_state
from obstacles.tracking import wandb_run
from obstacles.plots import risk_coverage_figure, save_figure
from obstacles.thresholds.search import SortedPredictions, ThresholdResult, limit_grid, search
from obstacles.thresholds.search import sweep as sweep_sorted

THRESHOLDS_FILE = "thresholds.json"  # numbers only: what `dvc metrics show/diff` and `dvc exp show` compare
PROVENANCE_FILE = "thresholds.provenance.json"  # what produced them (not a DVC metric)
SWEEP_FILE = "coverage_sweep.csv"
PLOT_FILE = "risk_coverage.png"


# --------------------------------------------------------------------------- inputs


def _find_key(tree, key: str):
    """First value stored under ``key`` anywhere in nested dicts/lists (None if absent)."""
    if isinstance(tree, dict):
        if tree.get(key) is not None:
            return tree[key]
        children = tree.values()
    elif isinstance(tree, list):
        children = tree
    else:
        return None
    for child in children:
        found = _find_key(child, key)
        if found is not None:
            return found
    return None


def sibling_records(folder: Path, names) -> list:
    """Parsed JSON/YAML files next to the predictions (the evaluation's provenance, the run's config)."""
    records = []
    for name in names:
        path = folder / name
        if not path.is_file():
            continue
        try:
            if path.suffix == ".json":
                records.append(json.loads(path.read_text()))
            else:
                records.append(OmegaConf.to_container(OmegaConf.load(path), resolve=False))
        except Exception as error:  # provenance is best effort; the thresholds do not depend on it
            print(f"warning: could not read {path} for provenance: {error}")
    return records


def lookup(configured, records: list, key: str):
    """The configured value, else the first one found in the sibling records."""
    if configured is not None:
        return configured
    return next((v for v in (_find_key(r, key) for r in records) if v is not None), None)


# --------------------------------------------------------------------------- outputs


def write_json(path: Path, payload: dict) -> Path:
    return write_text_atomic(path, json.dumps(payload, indent=2, allow_nan=False) + "\n")


def log_to_wandb(
    cfg: DictConfig, out_dir: Path, result: ThresholdResult, sweep: pd.DataFrame, plot: Path, run_id: str | None
) -> dict:
    """Sweep table, plot and thresholds into W&B; attaches to ``run_id`` when one is known."""
    import wandb

    wandb_dir = Path(cfg.logger.dir) if cfg.logger.dir else out_dir
    config = {"thresholds": OmegaConf.to_container(cfg, resolve=True)}
    with wandb_run(cfg.logger, wandb_dir, run_id=run_id, name=cfg.logger.name, config=config) as (run, record):
        run.log(
            {
                f"{cfg.logger.prefix}/coverage_sweep": wandb.Table(dataframe=sweep),
                f"{cfg.logger.prefix}/risk_coverage": wandb.Image(str(plot)),
            }
        )
        summary = {k: v for k, v in result.to_dict().items() if k != "rounded"}
        summary.update({f"{k}_rounded": v for k, v in result.to_dict()["rounded"].items()})
        run.summary.update({f"{cfg.logger.prefix}/{k}": v for k, v in summary.items()})
    return record


# --------------------------------------------------------------------------- the job


def run(cfg: DictConfig) -> dict:
    """Everything the CLI does, callable from tests and notebooks with a composed config."""
    predictions_path = Path(cfg.predictions)
    out_dir = Path(cfg.out_dir) if cfg.out_dir else predictions_path.parent
    table = read_predictions(predictions_path)

    data = SortedPredictions.build(table["score"].to_numpy(), table["label"].to_numpy())
    rounding = {"decimals": cfg.rounding.decimals, "epsilon": cfg.rounding.epsilon}
    result = search(data, max_missed=cfg.limits.max_missed, max_false_alarm=cfg.limits.max_false_alarm, **rounding)
    sweep = sweep_sorted(data, limit_grid(cfg.sweep.max_missed, cfg.sweep.max_false_alarm), **rounding)

    records = sibling_records(predictions_path.parent, cfg.provenance.sibling_files)
    provenance = {
        "predictions": str(predictions_path),
        "predictions_sha256": file_sha256(predictions_path),
        "checkpoint": lookup(cfg.provenance.checkpoint, records, "checkpoint"),
        "manifest_sha256": lookup(cfg.provenance.manifest_sha256, records, "manifest_sha256"),
        **git_state(),
        "outputs": {"thresholds": THRESHOLDS_FILE, "coverage_sweep": SWEEP_FILE, "risk_coverage": PLOT_FILE},
    }
    report = {
        **result.to_dict(),
        "limits": {"max_missed": result.max_missed, "max_false_alarm": result.max_false_alarm},
    }

    write_text_atomic(out_dir / SWEEP_FILE, sweep.to_csv(index=False))
    figure = risk_coverage_figure(
        sweep, highlight=(result.max_missed, result.max_false_alarm), title=f"coverage by limits: {predictions_path}"
    )
    save_figure(figure, out_dir / PLOT_FILE)
    write_json(out_dir / PROVENANCE_FILE, provenance)
    write_json(out_dir / THRESHOLDS_FILE, report)  # complete even if W&B fails below

    if cfg.logger.enabled:
        run_id = lookup(cfg.logger.run_id, records, cfg.logger.run_id_key)
        if run_id is None and cfg.logger.attach_to_folder_run:
            run_id = folder_wandb_run_id(predictions_path.parent)
        provenance["wandb"] = log_to_wandb(cfg, out_dir, result, sweep, out_dir / PLOT_FILE, run_id)
        write_json(out_dir / PROVENANCE_FILE, provenance)
    return {**report, "provenance": provenance}


def run_and_summarize(cfg: DictConfig) -> dict:
    """Search, then print the thresholds and rates the team reads first."""
    report = run(cfg)
    print(
        f"lower {report['lower_rounded']:.{cfg.rounding.decimals}f} (exact {report['lower']:.6g}), "
        f"upper {report['upper_rounded']:.{cfg.rounding.decimals}f} (exact {report['upper']:.6g}), "
        f"coverage {report['rounded']['coverage']:.4f} rounded / {report['coverage']:.4f} exact, "
        f"missed {report['rounded']['missed_rate']:.4f}, false alarm {report['rounded']['false_alarm_rate']:.4f}"
    )
    return report


main = entry_point("thresholds", run_and_summarize)

if __name__ == "__main__":
    main()
