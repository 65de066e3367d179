"""`python -m obstacles.commands.thresholds predictions=<predictions.csv>`: search, sweep, plot, log.

The deployed pair is certified at ``confidence`` (default 0.95: both true rates within the limits at
once with that probability, `obstacles.thresholds.find_thresholds`); ``confidence=null`` deploys
the empirical optimum as before. The empirical optimum is always reported beside it.

Writes into ``out_dir`` (default: the predictions file's folder) ``coverage_sweep.csv`` (empirical
and certified coverage per limit pair), ``risk_coverage.png``, ``per_site_thresholds.csv`` (the same
search per site; header only with ``per_site=false``), ``thresholds.provenance.json`` (what produced
them: predictions, checkpoint, hashes, commit, W&B run, and the guarantee in words) and, last,
``thresholds.json`` (numbers only: the DVC metric runs are compared by): the deployed pair at the top
level, ``empirical``, the sample-size ``advice`` per limit and ``per_site`` numbers keyed by site.
Every file goes through a temp file and ``os.replace`` so an interrupted run never leaves one that
looks complete. Then logs the same to W&B (offline unless WANDB_MODE says otherwise), optionally
into an existing run, and records that run in the provenance file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from obstacles.config import entry_point
from obstacles.io.outputs import save_figure, write_text_atomic
from obstacles.io.predictions import read_predictions
from obstacles.io.provenance import file_sha256, folder_wandb_run_id, git_state
from obstacles.plots import risk_coverage_figure
from obstacles.thresholds import wording
from obstacles.thresholds.search import (
    HEADLINE_FIELDS,
    PER_SITE_COLUMNS,
    SortedPredictions,
    ThresholdResult,
    limit_grid,
    sample_size_advice,
    search,
    search_per_site,
)
from obstacles.thresholds.search import sweep as sweep_sorted
from obstacles.tracking import wandb_run

THRESHOLDS_FILE = "thresholds.json"  # numbers only: what `dvc metrics show/diff` and `dvc exp show` compare
PROVENANCE_FILE = "thresholds.provenance.json"  # what produced them (not a DVC metric)
SWEEP_FILE = "coverage_sweep.csv"
PLOT_FILE = "risk_coverage.png"
PER_SITE_FILE = "per_site_thresholds.csv"
# the empirical optimum's figures in thresholds.json (all of them are in the W&B thresholds table)
EMPIRICAL_KEYS = (*HEADLINE_FIELDS, "certified")
# per site in thresholds.json (the full table is per_site_thresholds.csv)
PER_SITE_KEYS = ("n_obstacle", "n_no_obstacle", "lower_rounded", "upper_rounded", "coverage_rounded", "certified")


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


def empirical_numbers(result: ThresholdResult) -> dict:
    """The empirical optimum's headline figures (exact pair, its rounding, bounds at the deployed confidence)."""
    numbers = {key: getattr(result, key) for key in EMPIRICAL_KEYS}
    numbers["coverage_rounded"] = result.rounded.coverage
    numbers["certified_rounded"] = result.rounded.certified
    return numbers


def _plain(value):
    """numpy scalars as Python numbers (JSON), NaN as None (dropped by the caller)."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and value != value:
        return None
    return value


def per_site_numbers(table: pd.DataFrame) -> dict:
    """site -> its numbers (thresholds only for a searched site): numbers only, for DVC metrics."""
    numbers = {}
    for row in table.to_dict("records"):
        values = {key: _plain(row[key]) for key in PER_SITE_KEYS}
        numbers[str(row["site"])] = {key: value for key, value in values.items() if value is not None}
    return numbers


def thresholds_table(deployed: ThresholdResult, empirical: ThresholdResult) -> pd.DataFrame:
    """The deployed pair and the empirical optimum, one row each, every figure (W&B)."""
    rows = []
    for name, result in (("deployed", deployed), ("empirical", empirical)):
        flat = {k: v for k, v in result.to_dict().items() if k != "rounded"}
        flat.update({f"{k}_rounded": v for k, v in result.to_dict()["rounded"].items()})
        rows.append({"pair": name, **flat})
    return pd.DataFrame(rows)


def log_to_wandb(
    cfg: DictConfig,
    out_dir: Path,
    result: ThresholdResult,
    tables: dict[str, pd.DataFrame],
    plot: Path,
    run_id: str | None,
) -> dict:
    """Sweep, thresholds and per-site tables, plot and thresholds into W&B; attaches to ``run_id`` when known."""
    import wandb

    wandb_dir = Path(cfg.logger.dir) if cfg.logger.dir else out_dir
    config = {"thresholds": OmegaConf.to_container(cfg, resolve=True)}
    with wandb_run(cfg.logger, wandb_dir, run_id=run_id, name=cfg.logger.name, config=config) as (run, record):
        logged = {f"{cfg.logger.prefix}/{name}": wandb.Table(dataframe=table) for name, table in tables.items()}
        logged[f"{cfg.logger.prefix}/risk_coverage"] = wandb.Image(str(plot))
        run.log(logged)
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
    scores, labels = table["score"].to_numpy(), table["label"].to_numpy()

    data = SortedPredictions.build(scores, labels)
    confidence = None if cfg.confidence is None else float(cfg.confidence)
    options = {
        "max_missed": cfg.limits.max_missed,
        "max_false_alarm": cfg.limits.max_false_alarm,
        "decimals": cfg.rounding.decimals,
        "epsilon": cfg.rounding.epsilon,
    }
    result = search(data, confidence=confidence, report_confidence=cfg.report_confidence, **options)
    empirical = search(data, report_confidence=result.confidence, **options)
    rounding = {"decimals": cfg.rounding.decimals, "epsilon": cfg.rounding.epsilon}
    grid = limit_grid(cfg.sweep.max_missed, cfg.sweep.max_false_alarm)
    sweep = sweep_sorted(data, grid, confidence=result.confidence, **rounding)
    if cfg.per_site:
        per_site = search_per_site(
            scores,
            labels,
            table["site"].to_numpy(),
            confidence=confidence,
            report_confidence=cfg.report_confidence,
            **options,
        )
    else:
        per_site = pd.DataFrame(columns=list(PER_SITE_COLUMNS))

    report = {
        **result.to_dict(),
        "limits": {"max_missed": result.max_missed, "max_false_alarm": result.max_false_alarm},
        "empirical": empirical_numbers(empirical),
        "advice": {
            "missed": sample_size_advice(result.n_obstacle, result.max_missed, result.confidence),
            "false_alarm": sample_size_advice(result.n_no_obstacle, result.max_false_alarm, result.confidence),
        },
        "per_site": per_site_numbers(per_site),
    }
    records = sibling_records(predictions_path.parent, cfg.provenance.sibling_files)
    provenance = {
        "predictions": str(predictions_path),
        "predictions_sha256": file_sha256(predictions_path),
        "checkpoint": lookup(cfg.provenance.checkpoint, records, "checkpoint"),
        "manifest_sha256": lookup(cfg.provenance.manifest_sha256, records, "manifest_sha256"),
        **git_state(),
        "rule": wording.RULE,
        "guarantee": wording.guarantee(report),
        "advice_in_words": wording.advice(report),
        "outputs": {
            "thresholds": THRESHOLDS_FILE,
            "coverage_sweep": SWEEP_FILE,
            "risk_coverage": PLOT_FILE,
            "per_site": PER_SITE_FILE,
        },
    }

    write_text_atomic(out_dir / SWEEP_FILE, sweep.to_csv(index=False))
    write_text_atomic(out_dir / PER_SITE_FILE, per_site.to_csv(index=False))
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
        tables = {"coverage_sweep": sweep, "thresholds": thresholds_table(result, empirical)}
        if not per_site.empty:
            tables["per_site"] = per_site
        provenance["wandb"] = log_to_wandb(cfg, out_dir, result, tables, out_dir / PLOT_FILE, run_id)
        write_json(out_dir / PROVENANCE_FILE, provenance)
    return {**report, "provenance": provenance}


def run_and_summarize(cfg: DictConfig) -> dict:
    """Search, then print the thresholds, what they guarantee and what more labelling would buy."""
    report = run(cfg)
    d = cfg.rounding.decimals
    empirical = report["empirical"]
    kind = "certified" if report["certified_search"] else "empirical"
    print(
        f"deployed ({kind}): lower {report['lower_rounded']:.{d}f} (exact {report['lower']:.6g}), "
        f"upper {report['upper_rounded']:.{d}f} (exact {report['upper']:.6g}), "
        f"coverage {report['rounded']['coverage']:.4f} rounded / {report['coverage']:.4f} exact, "
        f"missed {report['rounded']['missed_rate']:.4f} (bound {report['rounded']['missed_rate_upper']:.4f}), "
        f"false alarm {report['rounded']['false_alarm_rate']:.4f} "
        f"(bound {report['rounded']['false_alarm_rate_upper']:.4f})"
    )
    if report["certified_search"]:
        print(
            f"empirical optimum beside it: lower {empirical['lower_rounded']:.{d}f}, upper "
            f"{empirical['upper_rounded']:.{d}f}, coverage {empirical['coverage_rounded']:.4f} rounded "
            f"({'certified' if empirical['certified_rounded'] else 'not certified'})"
        )
    print(wording.guarantee(report))
    for line in wording.sides_deciding_nothing(report) + wording.advice(report):
        print(f"  {line}")
    return report


main = entry_point("thresholds", run_and_summarize)

if __name__ == "__main__":
    main()
