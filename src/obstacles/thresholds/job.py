"""One threshold search, start to end: read the predictions, search, sweep, write, log.

The deployed pair is certified at ``confidence`` (default 0.95: both true rates within the limits at
once with that probability, `obstacles.thresholds.find_thresholds`); ``confidence=None`` deploys
the empirical optimum (the limits met on the evaluation images only). The empirical optimum is always reported beside it.

Writes into ``out_dir`` (default: the predictions file's folder) ``coverage_sweep.csv`` (empirical
and certified coverage per limit pair), ``risk_coverage.png``, ``per_site_thresholds.csv`` (the same
search per site; header only without ``per_site``), ``thresholds.provenance.json`` (what produced
them: predictions, checkpoint, hashes, commit, W&B run, and the guarantee in words) and, last,
``thresholds.json`` (numbers only: the DVC metric runs are compared by): the deployed pair at the top
level, ``empirical``, the sample-size ``advice`` per limit and ``per_site`` numbers keyed by site.
The set is written in a hidden folder beside them and moved in whole (`atomic_file_set`), so an
interrupted or failed run (a full disk) leaves the previous set, never new files beside an old
``thresholds.json``. Then logs the same to W&B (offline unless WANDB_MODE says otherwise), optionally
into an existing run, and records that run in the provenance file.

`search_thresholds(settings)` runs conf/thresholds.yaml's settings (`ThresholdsSettings`, the command,
tests, notebooks); `search_predictions` below it takes the search settings, the provenance sources and
the W&B settings apart (compare).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from omegaconf import OmegaConf

from obstacles.infra.tracking import WandbSettings, log_outputs, wandb_run
from obstacles.io.outputs import atomic_file_set, json_value, save_figure, write_json, write_text_atomic
from obstacles.io.predictions import read_predictions
from obstacles.io.provenance import file_sha256, folder_wandb_run_id, git_state
from obstacles.plots import risk_coverage_figure
from obstacles.runs.layout import THRESHOLDS_FILE, THRESHOLDS_PROVENANCE_FILE
from obstacles.thresholds import wording
from obstacles.thresholds.search import (
    HEADLINE_FIELDS,
    PER_SITE_COLUMNS,
    SortedPredictions,
    ThresholdResult,
    limit_grid,
    sample_size_advice,
    search_per_site,
    search_sorted,
)
from obstacles.thresholds.search import sweep as sweep_sorted
from obstacles.thresholds.settings import ProvenanceSources, SearchSettings, ThresholdsSettings

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


def empirical_numbers(result: ThresholdResult) -> dict:
    """The empirical optimum's headline figures (exact pair, its rounding, bounds at the deployed confidence)."""
    numbers = {key: getattr(result, key) for key in EMPIRICAL_KEYS}
    numbers["coverage_rounded"] = result.rounded.coverage
    numbers["certified_rounded"] = result.rounded.certified
    return numbers


def per_site_numbers(table: pd.DataFrame) -> dict:
    """site -> its numbers (thresholds only for a searched site): numbers only, for DVC metrics."""
    numbers = {}
    for row in table.to_dict("records"):
        values = {key: json_value(row[key]) for key in PER_SITE_KEYS}
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
    settings: WandbSettings,
    wandb_dir: Path,
    config: dict,
    result: ThresholdResult,
    tables: dict[str, pd.DataFrame],
    plot: Path,
    run_id: str | None,
) -> dict:
    """Sweep, thresholds and per-site tables, plot and thresholds into W&B; attaches to ``run_id`` when known."""
    summary = {k: v for k, v in result.to_dict().items() if k != "rounded"}
    summary.update({f"{k}_rounded": v for k, v in result.to_dict()["rounded"].items()})
    with wandb_run(settings, wandb_dir, run_id=run_id, name=settings.name, config=config) as (run, record):
        log_outputs(run, settings.prefix, tables=tables, images={"risk_coverage": plot}, summary=summary)
    return record


def attached_run_id(settings: WandbSettings, records: list, folder: Path) -> str | None:
    """The configured run id, else the sibling files', else the W&B run already in the predictions' folder."""
    run_id = lookup(settings.run_id, records, settings.run_id_key)
    if run_id is None and settings.attach_to_folder_run:
        run_id = folder_wandb_run_id(folder)
    return run_id


# --------------------------------------------------------------------------- the job


def search_predictions(
    predictions: Path,
    out_dir: Path | None,
    settings: SearchSettings,
    sources: ProvenanceSources,
    *,
    wandb: WandbSettings | None = None,
    wandb_config: dict | None = None,
) -> dict:
    """Search, sweep and write; then log to W&B with the ``wandb`` settings (None: not at all),
    recording ``wandb_config`` as the run's config. Returns thresholds.json's content + ``provenance``."""
    predictions = Path(predictions)
    out_dir = Path(out_dir) if out_dir else predictions.parent
    table = read_predictions(predictions)
    scores, labels = table["score"].to_numpy(), table["label"].to_numpy()

    data = SortedPredictions.build(scores, labels)
    confidence = None if settings.confidence is None else float(settings.confidence)
    options = {
        "max_missed": settings.limits.max_missed,
        "max_false_alarm": settings.limits.max_false_alarm,
        "decimals": settings.rounding.decimals,
        "epsilon": settings.rounding.epsilon,
    }
    result = search_sorted(data, confidence=confidence, report_confidence=settings.report_confidence, **options)
    empirical = search_sorted(data, report_confidence=result.confidence, **options)
    rounding = {"decimals": settings.rounding.decimals, "epsilon": settings.rounding.epsilon}
    grid = limit_grid(settings.sweep.max_missed, settings.sweep.max_false_alarm)
    sweep = sweep_sorted(data, grid, confidence=result.confidence, **rounding)
    if settings.per_site:
        per_site = search_per_site(
            scores,
            labels,
            table["site"].to_numpy(),
            confidence=confidence,
            report_confidence=settings.report_confidence,
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
    records = sibling_records(predictions.parent, sources.sibling_files)
    provenance = {
        "predictions": str(predictions),
        "predictions_sha256": file_sha256(predictions),
        "checkpoint": lookup(sources.checkpoint, records, "checkpoint"),
        "manifest_sha256": lookup(sources.manifest_sha256, records, "manifest_sha256"),
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

    # one set: a failure (a full disk) leaves the previous set whole, never new files beside an old thresholds.json
    with atomic_file_set(
        out_dir, (SWEEP_FILE, PER_SITE_FILE, PLOT_FILE, THRESHOLDS_PROVENANCE_FILE), THRESHOLDS_FILE
    ) as staging:
        write_text_atomic(staging / SWEEP_FILE, sweep.to_csv(index=False))
        write_text_atomic(staging / PER_SITE_FILE, per_site.to_csv(index=False))
        figure = risk_coverage_figure(
            sweep, highlight=(result.max_missed, result.max_false_alarm), title=f"coverage by limits: {predictions}"
        )
        save_figure(figure, staging / PLOT_FILE)
        write_json(staging / THRESHOLDS_PROVENANCE_FILE, provenance)
        write_json(staging / THRESHOLDS_FILE, report)  # complete even if W&B fails below

    if wandb is not None:
        run_id = attached_run_id(wandb, records, predictions.parent)
        tables = {"coverage_sweep": sweep, "thresholds": thresholds_table(result, empirical)}
        if not per_site.empty:
            tables["per_site"] = per_site
        wandb_dir = Path(wandb.dir) if wandb.dir else out_dir
        provenance["wandb"] = log_to_wandb(
            wandb, wandb_dir, wandb_config or {}, result, tables, out_dir / PLOT_FILE, run_id
        )
        write_json(out_dir / THRESHOLDS_PROVENANCE_FILE, provenance)
    return {**report, "provenance": provenance}


def search_thresholds(settings: ThresholdsSettings) -> dict:
    """`search_predictions` with conf/thresholds.yaml's settings: the command's whole job."""
    logging = settings.wandb.enabled
    return search_predictions(
        Path(settings.predictions),
        Path(settings.out_dir) if settings.out_dir else None,
        settings,
        settings.provenance,
        wandb=settings.wandb if logging else None,
        wandb_config={"thresholds": asdict(settings)} if logging else None,
    )
