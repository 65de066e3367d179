"""One champion comparison, start to end: read both models' scores, join them on the same eval
frames, compare (`obstacles.champion.compare`), write, log.

The challenger is a run folder (its `eval/predictions.csv`), an evaluation folder or a predictions
file. The champion is ``deployed`` (default: the deployed model's score of each frame, the
predictions' `deployed_score` column, which evaluation copies from the manifest; for predictions
from before that column, the `deployed_score` column of a given ``manifest``), or another model's
predictions, joined on `path` (labels must agree).

Writes into ``out_dir`` (default: `<challenger's predictions folder>/champion`): `per_site.csv`,
`roc_overlay.png`, `champion.provenance.json` (what was compared with what: files and hashes, the
challenger's checkpoint, the test, the verdicts in words, commit, W&B run) and, last,
`champion.json` (numbers only, the DVC metric: all frames at the top level, `per_site` keyed by
site; `verdict` is 1 better, 0 not distinguishable or not testable (`testable`), -1 worse). Each
file goes through a temp file and a rename, so an interrupted run never leaves one that looks
complete. Then logs the tables, the picture and the headline numbers to W&B.

`compare_champion(settings)` runs conf/champion.yaml's settings (`ChampionSettings`: the command,
tests, notebooks); `run_comparison` takes plain arguments.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from obstacles.champion.compare import (
    ALL_SITES,
    CHALLENGER,
    CHAMPION,
    FRAME_COLUMNS,
    PAIRS,
    GroupComparison,
    Settings,
    compare_frames,
    per_site_table,
)
from obstacles.champion.paired import Limits
from obstacles.champion.settings import COVERAGE_AT, ChampionSettings, DeploymentSettings
from obstacles.infra.tracking import WandbSettings, log_outputs, wandb_run
from obstacles.io.manifests import deployed_scores, read_rows
from obstacles.io.outputs import save_figure, write_json, write_text_atomic
from obstacles.io.predictions import read_predictions
from obstacles.io.provenance import file_sha256, git_state
from obstacles.io.tables import TableError
from obstacles.lineage.names import DEPLOYED_SCORE
from obstacles.plots import roc_overlay_figure
from obstacles.runs.layout import EVAL_DIR, METRICS_PROVENANCE_FILE, PREDICTIONS_FILE

REPORT_FILE = "champion.json"  # numbers only: what `dvc metrics show/diff` compare
PROVENANCE_FILE = "champion.provenance.json"
PER_SITE_FILE = "per_site.csv"
PLOT_FILE = "roc_overlay.png"
DEPLOYED = "deployed"  # the champion meaning "the deployed model's recorded score"
TEST_DESCRIPTION = (
    "paired on the frames both models scored (challenger frames without a champion score, e.g. reversed "
    "copies, are evaluated for the challenger alone and counted as n_left_out); AUROC difference = "
    "challenger - champion with DeLong's test for correlated ROC curves (fast midrank algorithm, Sun & Xu "
    "2014), normal interval and two-sided p; verdict 'better' / 'worse' when p < alpha, else 'not "
    "distinguishable with n frames'; frames_needed = n * ((z_{1-alpha/2} + z_power) / z)^2; each model's "
    "own certified and empirical threshold pair at the deployment limits, coverage difference with a "
    "paired bootstrap percentile interval (same resampled frames for both models, pairs searched again)"
)


@dataclass(frozen=True)
class Sources:
    """Where each model's scores come from."""

    challenger: Path  # a predictions file
    champion: str  # DEPLOYED or a predictions file
    manifest: Path | None  # deployed scores for predictions without the column
    provenance_file: str  # the evaluation's provenance, beside a predictions file


def predictions_file(target: str | Path, eval_subdir: str, name: str) -> Path:
    """The predictions a path names: a file, a folder holding them, or a run folder's evaluation."""
    target = Path(target)
    for candidate in (target, target / name, target / eval_subdir / name):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"no predictions at {target}: expected a predictions file, a folder holding {name}, or a run folder "
        f"with {eval_subdir}/{name} (evaluate the run first: python -m obstacles.commands.evaluate run_dir={target})"
    )


def evaluation_record(predictions: Path, provenance_file: str) -> dict:
    """The evaluation's provenance beside a predictions file (checkpoint, hashes, W&B run), if any."""
    path = predictions.parent / provenance_file
    return json.loads(path.read_text()) if path.is_file() else {}


def champion_scores(challenger: pd.DataFrame, sources: Sources) -> tuple[pd.Series, dict]:
    """The champion's score of every challenger frame (NaN where it has none) and where they came from."""
    if sources.champion == DEPLOYED:
        if DEPLOYED_SCORE in challenger.columns:
            scores = deployed_scores(challenger[DEPLOYED_SCORE], str(sources.challenger))
            return scores, {"kind": DEPLOYED, "source": f"{DEPLOYED_SCORE} column of {sources.challenger}"}
        if sources.manifest is None:
            raise ValueError(
                f"{sources.challenger} has no {DEPLOYED_SCORE} column (evaluated before the lineage carried it): "
                "re-run the evaluation, or give manifest=<datasets/<name>/manifest.csv> to take it from there"
            )
        rows = pd.DataFrame([row for _, row in read_rows(sources.manifest, ("path", DEPLOYED_SCORE))])
        by_path = deployed_scores(rows[DEPLOYED_SCORE], str(sources.manifest)).set_axis(rows["path"])
        source = {"kind": DEPLOYED, "source": str(sources.manifest), "sha256": file_sha256(sources.manifest)}
        return challenger["path"].map(by_path).astype(np.float64), source
    path = Path(sources.champion)
    other = read_predictions(path)
    if other["path"].duplicated().any():
        raise TableError(f"{path}: path {other['path'][other['path'].duplicated()].iat[0]!r} appears twice")
    joined = challenger[["path", "label"]].merge(other[["path", "label", "score"]], on="path", how="left")
    disagree = joined["score"].notna() & (joined["label_x"] != joined["label_y"])
    if disagree.any():
        first = joined[disagree].iloc[0]
        raise ValueError(
            f"{first['path']} is {first['label_x']} in {sources.challenger} but {first['label_y']} in {path}: "
            "the two models were evaluated on different labels"
        )
    record = evaluation_record(path, sources.provenance_file)
    source = {"kind": "model", "source": str(path), "sha256": file_sha256(path), "checkpoint": record.get("checkpoint")}
    return joined["score"].astype(np.float64), source


def paired_frames(sources: Sources) -> tuple[pd.DataFrame, dict]:
    """FRAME_COLUMNS over the challenger's frames, and where the champion's scores came from."""
    challenger = read_predictions(sources.challenger)
    if challenger["path"].duplicated().any():
        raise TableError(
            f"{sources.challenger}: path {challenger['path'][challenger['path'].duplicated()].iat[0]!r} twice"
        )
    champion, origin = champion_scores(challenger, sources)
    frames = challenger[["path", "site", "label"]].assign(
        **{CHALLENGER: challenger["score"].to_numpy(), CHAMPION: champion.to_numpy()}
    )
    return frames[list(FRAME_COLUMNS)], origin


def overlay(frames: pd.DataFrame, champion_name: str, title: str):
    """Both ROC curves on the frames both scored."""
    paired = frames[frames[CHAMPION].notna()]
    curves = {CHALLENGER: paired[CHALLENGER].to_numpy(), champion_name: paired[CHAMPION].to_numpy()}
    return roc_overlay_figure(paired["label"].to_numpy(), curves, title=title)


def summary_numbers(overall: GroupComparison) -> dict:
    """The headline numbers for W&B's summary, flat."""
    numbers = overall.numbers()
    flat = {key: numbers[key] for key in ("n", "n_left_out", "verdict", "testable")}
    for role in (CHALLENGER, CHAMPION):
        for key in ("auroc", "average_precision"):
            if key in numbers[role]:
                flat[f"{role}_{key}"] = numbers[role][key]
        for pair in PAIRS:
            coverage = numbers[role].get("thresholds", {}).get(pair, {}).get("coverage")
            if coverage is not None:
                flat[f"{role}_coverage_{pair}"] = coverage
    for key, value in numbers.get("auroc_difference", {}).items():
        flat[f"auroc_difference_{key}"] = value
    return flat


def run_comparison(
    sources: Sources,
    settings: Settings,
    out_dir: Path | None = None,
    *,
    wandb: WandbSettings | None = None,
    wandb_config: dict | None = None,
) -> dict:
    """Compare, write; then log to W&B with the ``wandb`` settings (None: not at all). Returns
    champion.json's content + ``provenance``."""
    frames, champion_origin = paired_frames(sources)
    out_dir = Path(out_dir) if out_dir else sources.challenger.parent / "champion"
    overall, sites = compare_frames(frames, settings)
    report = {**overall.numbers(), "per_site": {group.name: group.numbers() for group in sites}}
    record = evaluation_record(sources.challenger, sources.provenance_file)
    champion_name = "deployed model (recorded score)" if champion_origin["kind"] == DEPLOYED else CHAMPION
    provenance = {  # no key of champion.json's: `dvc metrics` readers tell the two files apart by key
        "challenger_from": {
            "predictions": str(sources.challenger),
            "predictions_sha256": file_sha256(sources.challenger),
            **{key: record.get(key) for key in ("checkpoint", "checkpoint_sha256", "run_dir", "dataset")},
            "manifest_sha256": record.get("manifest_sha256"),
        },
        "champion_from": champion_origin,
        "test": TEST_DESCRIPTION,
        **overall.words(),
        "per_site_verdicts": {group.name: group.words() for group in sites},
        "settings": {
            "alpha": settings.alpha,
            "power": settings.power,
            "confidence": settings.confidence,
            "limits": settings.limits.__dict__,
            "bootstrap": {
                "resamples": settings.resamples,
                "confidence": settings.bootstrap_confidence,
                "seed": settings.seed,
            },
            "min_per_class": settings.min_per_class,
        },
        **git_state(),
        "outputs": {"report": REPORT_FILE, "per_site": PER_SITE_FILE, "roc_overlay": PLOT_FILE},
    }
    table = per_site_table([overall, *sites])
    write_text_atomic(out_dir / PER_SITE_FILE, table[table["site"] != ALL_SITES].to_csv(index=False))
    title = f"same {overall.numbers()['n']} frames: {overall.words()['verdict_in_words']}"
    if overall.numbers()["n_obstacle"] and overall.numbers()["n_no_obstacle"]:
        save_figure(overlay(frames, champion_name, title), out_dir / PLOT_FILE)
    write_json(out_dir / PROVENANCE_FILE, provenance)
    write_json(out_dir / REPORT_FILE, report)  # complete even if W&B fails below

    if wandb is not None:
        run_id = wandb.run_id or record.get("wandb_run_id")
        wandb_dir = Path(wandb.dir) if wandb.dir else out_dir
        images = {"roc_overlay": out_dir / PLOT_FILE} if (out_dir / PLOT_FILE).is_file() else {}
        with wandb_run(wandb, wandb_dir, run_id=run_id, name=wandb.name, config=wandb_config or {}) as (run, where):
            log_outputs(
                run,
                wandb.prefix,
                tables={"comparison": table[table["site"] == ALL_SITES], "per_site": table[table["site"] != ALL_SITES]},
                images=images,
                summary=summary_numbers(overall),
            )
        provenance["wandb"] = where
        write_json(out_dir / PROVENANCE_FILE, provenance)
    return {**report, "provenance": provenance}


def deployment_limits(deployment: DeploymentSettings, coverage_at: str) -> Limits:
    """The limits, confidence and rounding a deployment searches with (conf/thresholds.yaml's unless
    set under `deployment`), so both models are judged as a deployment would be."""
    if coverage_at not in COVERAGE_AT:
        raise ValueError(f"coverage_at must be one of {list(COVERAGE_AT)}, got {coverage_at!r}")
    return Limits(
        max_missed=deployment.max_missed,
        max_false_alarm=deployment.max_false_alarm,
        confidence=deployment.confidence,
        decimals=deployment.decimals,
        epsilon=deployment.epsilon,
        rounded=coverage_at == "rounded",
    )


def compare_champion(settings: ChampionSettings) -> dict:
    """`run_comparison` with conf/champion.yaml's settings: the command's whole job."""
    limits = deployment_limits(settings.deployment, settings.coverage_at)
    challenger = predictions_file(settings.challenger, EVAL_DIR, PREDICTIONS_FILE)
    champion = settings.champion
    if champion != DEPLOYED:
        champion = str(predictions_file(champion, EVAL_DIR, PREDICTIONS_FILE))
    logging = settings.wandb.enabled
    return run_comparison(
        Sources(
            challenger=challenger,
            champion=champion,
            manifest=Path(settings.manifest) if settings.manifest else None,
            provenance_file=METRICS_PROVENANCE_FILE,
        ),
        Settings(
            alpha=settings.alpha,
            power=settings.power,
            confidence=settings.confidence,
            limits=limits,
            resamples=settings.bootstrap.resamples,
            bootstrap_confidence=settings.bootstrap.confidence,
            seed=settings.bootstrap.seed,
            min_per_class=settings.min_per_class,
        ),
        Path(settings.out_dir) if settings.out_dir else None,
        wandb=settings.wandb if logging else None,
        wandb_config={"champion": asdict(settings)} if logging else None,
    )
