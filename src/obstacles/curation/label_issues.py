"""Out-of-fold label issues of a dataset's training split.

K models (`folds.assign_folds`: whole burst groups, stratified by label) each train with the
chosen recipe on K-1 folds and score the fold they never saw, so every training pair gets an
out-of-sample obstacle score. Two more opinions never saw a pair's label: the deployed model's
recorded score, and its look-alikes' labels (`confident.look_alike_score`: its nearest neighbours
within its held-out fold, in the embedding of the fold model that left them all out). The ranked
score is their weighted mean (`opinions`, `confident.ensemble_score`). Confident learning
(`confident.find_label_issues`) then flags the pairs whose given label that score contradicts and
ranks them; reversed copies, whose label follows from their source's, are scored but never
candidates. The audit's `surprising.csv`
ranks by the trained model's loss on its own training images, where a memorised wrong label
looks fine.

Outputs (`write_report`, replaced as a whole): label_issues.csv (the flagged pairs, most likely
wrong first), oof_scores.csv (every training pair: fold, out-of-fold score, rank), index.html (the
flagged pairs with both panels, deployed and out-of-fold score and why), summary.json.
The fold runs live in `work_dir/fold_<k>/` and are reused while their manifest and recipe match.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from obstacles.curation.audit import embed_manifest, usable_rows
from obstacles.curation.confident import check_weights, ensemble_score, find_label_issues, look_alike_score
from obstacles.curation.embedding import ClassifierEmbedder
from obstacles.curation.folds import assign_folds, capture_groups, fold_manifest
from obstacles.data.dataset import read_manifest
from obstacles.infra.tracking import WandbSettings, log_outputs, table, wandb_run
from obstacles.io.html import Card, Sheet, SheetLayout, contact_sheet, write_page
from obstacles.io.manifests import deployed_scores
from obstacles.io.outputs import atomic_dir, write_csv, write_json, write_text_atomic
from obstacles.io.provenance import file_sha256
from obstacles.lineage.names import CLASSES, DEPLOYED_SCORE, MANIFEST_WRITTEN_COLUMNS, TRAIN, source_stem
from obstacles.runs.layout import CHECKPOINTS_DIR
from obstacles.runs.loading import load_classifier

ISSUE_COLUMNS = (
    "rank",
    "path",
    "site",
    "label",
    "oof_score",
    "deployed_score",
    "look_alike_score",
    "issue_score",
    "why",
    "fold",
)
SCORE_COLUMNS = (
    "path",
    "site",
    "label",
    "fold",
    "oof_score",
    "deployed_score",
    "look_alike_score",
    "issue_score",
    "self_confidence",
    "rank",
    "flagged",
    "reversed_copy",
)
SCORE_DECIMALS = 6
FOLD_KEY = "fold_key.txt"  # beside a fold's run: what it was trained from (manifest + recipe)
BEST_CKPT = Path(CHECKPOINTS_DIR) / "best.ckpt"
NOTE = (
    "training pairs whose given label the opinions that never saw it contradict (the out-of-fold "
    "model, the deployed model and the labels of its look-alikes, averaged; confident learning), "
    "most likely wrong first; each image is [reference | current]"
)


@dataclass(frozen=True)
class FoldPlan:
    """How the out-of-fold scores are made: K, the fold seed, the burst grouping, the training
    recipe (overrides of conf/train.yaml) and where the fold runs live."""

    k: int
    seed: int
    burst_gap_s: float
    reversed_suffix: str
    train_overrides: tuple[str, ...]
    work_dir: Path
    batch_size: int
    look_alike_k: int

    def __post_init__(self):  # a bad setting stops the command before K trainings, not after
        if self.k < 2:
            raise ValueError(f"folds must be at least 2, got {self.k}")
        if self.look_alike_k < 1:
            raise ValueError(f"look_alike_k must be at least 1, got {self.look_alike_k}")


@dataclass(frozen=True)
class LabelIssues:
    out: Path
    scores: pd.DataFrame
    issues: pd.DataFrame
    summary: dict

    def summary_line(self) -> str:
        s = self.summary
        return (
            f"{s['train_pairs']} training pairs scored out of fold by {s['folds']} models "
            f"({s['trained']} trained, {s['seconds']:.0f} s): {s['flagged']} label issues; report in {self.out}"
        )


def written_columns(manifest: pd.DataFrame) -> list[str]:
    """The manifest's own columns (deployed_score is optional), without read_manifest's additions."""
    return [c for c in MANIFEST_WRITTEN_COLUMNS if c in manifest.columns]


def fold_key(manifest: pd.DataFrame, overrides: tuple[str, ...]) -> str:
    """Identity of a fold's training: its manifest rows and the recipe."""
    text = manifest[written_columns(manifest)].to_csv(index=False) + json.dumps(list(overrides))
    return hashlib.sha256(text.encode()).hexdigest()


def train_fold(
    manifest: pd.DataFrame,
    fold_dir: Path,
    root: Path,
    overrides: tuple[str, ...],
    train_one: Callable[[DictConfig], object],
    compose_train: Callable[[list[str]], DictConfig],
) -> tuple[Path, DictConfig, bool]:
    """(best checkpoint, its training config, whether it was trained now): a fold's run, reused
    when its key matches, else trained in `fold_dir` with W&B and loggers off (one report, not K runs)."""
    key = fold_key(manifest, overrides)
    manifest_path = fold_dir / "manifest.csv"
    cfg = compose_train(
        [
            *overrides,
            f"paths.root_dir={root}",
            f"paths.output_dir={fold_dir / 'run'}",
            f"data.manifest={manifest_path}",
            f"data.dataset_dir={fold_dir}",
            "wandb.enabled=false",
            "logger=none",
        ]
    )
    ckpt = fold_dir / "run" / BEST_CKPT
    if (fold_dir / FOLD_KEY).is_file() and (fold_dir / FOLD_KEY).read_text() == key and ckpt.is_file():
        return ckpt, cfg, False
    fold_dir.mkdir(parents=True, exist_ok=True)
    (fold_dir / FOLD_KEY).unlink(missing_ok=True)
    manifest[written_columns(manifest)].to_csv(manifest_path, index=False)
    train_one(cfg)
    if not ckpt.is_file():
        raise RuntimeError(f"fold run {fold_dir / 'run'} wrote no {BEST_CKPT}")
    write_text_atomic(fold_dir / FOLD_KEY, key)
    return ckpt, cfg, True


def score_rows(
    rows: pd.DataFrame, ckpt: Path, cfg: DictConfig, root: Path, batch_size: int
) -> tuple[np.ndarray, np.ndarray]:
    """The checkpoint's obstacle score and embedding for every row, with the inputs it trained on
    (panel size, diff mask of each row's site threshold); no embedding cache (fold models are
    throwaway)."""
    embedder = ClassifierEmbedder(load_classifier(ckpt), ckpt, panel_size=cfg.data.panel_size)
    embedded = embed_manifest(
        rows,
        root,
        embedder,
        panels=cfg.data.panels,
        panel_size=embedder.panel_size,
        cache_dir=None,
        batch_size=batch_size,
    )
    usable, vectors, logits = usable_rows(rows, embedded, root)
    if len(usable) != len(rows):
        raise ValueError(f"{len(rows) - len(usable)} held-out image(s) unreadable: {embedded.skipped[:1]}")
    return 1.0 / (1.0 + np.exp(-logits.astype(np.float64))), vectors


def why_flagged(label: str, score: float, thresholds: np.ndarray, opinions: dict[str, float]) -> str:
    other = CLASSES[1 - CLASSES.index(label)]
    p_other = score if other == CLASSES[1] else 1.0 - score
    said = ", ".join(f"{name.replace('_', '-')} {value:.3f}" for name, value in opinions.items() if np.isfinite(value))
    return (
        f"labelled {label}, but the opinions that never saw it ({said}) give {other} {p_other:.3f}, "
        f"at or above {other}'s confident threshold {thresholds[CLASSES.index(other)]:.3f}"
    )


def pair_sources(pairs: pd.DataFrame, reversed_suffix: str) -> np.ndarray:
    """Each pair's source frame (its site and stem): a reversed copy shares its frame's, though it
    sits in the other class's folder."""
    return np.array(
        [f"{site}/{source_stem(path, reversed_suffix)}" for site, path in zip(pairs["site"], pairs["path"])]
    )


def rank_table(
    train: pd.DataFrame,
    folds: np.ndarray,
    scores: np.ndarray,
    look_alikes: np.ndarray,
    *,
    weights: dict[str, float],
    reversed_suffix: str,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Every training pair with its fold and its three opinions (out-of-fold score, deployed score
    checked by `io.manifests.deployed_scores`, look-alike score; NaN where none), the score the rule
    ranks by (`weights`: `settings.OpinionWeights` as a dict) and its confident-learning verdict,
    ranked (module docstring)."""
    labels = np.array([CLASSES.index(label) for label in train["label"]])
    deployed = train[DEPLOYED_SCORE].to_numpy(np.float64) if DEPLOYED_SCORE in train else np.full(len(train), np.nan)
    opinions = {"out_of_fold": scores, "deployed": deployed, "look_alikes": look_alikes}
    issue_score = ensemble_score(opinions, weights, fallback="out_of_fold")
    reversed_copy = np.array([source_stem(path, reversed_suffix) != Path(path).stem for path in train["path"]])
    found = find_label_issues(issue_score, labels, candidates=~reversed_copy)
    table_ = pd.DataFrame(
        {
            "path": train["path"].to_numpy(),
            "site": train["site"].to_numpy(),
            "label": train["label"].to_numpy(),
            "fold": folds,
            "oof_score": scores.round(SCORE_DECIMALS),
            "deployed_score": deployed,
            "look_alike_score": np.asarray(look_alikes, dtype=np.float64).round(SCORE_DECIMALS),
            "issue_score": issue_score.round(SCORE_DECIMALS),
            "self_confidence": found.self_confidence.round(SCORE_DECIMALS),
            "rank": found.rank,
            "flagged": found.flagged,
            "reversed_copy": reversed_copy,
        }
    )
    table_["why"] = [
        why_flagged(label, score, found.thresholds, {name: values[k] for name, values in opinions.items()})
        if flag
        else ""
        for k, (label, score, flag) in enumerate(zip(table_["label"], issue_score, found.flagged))
    ]
    return table_.sort_values("rank").reset_index(drop=True), found.thresholds


def out_of_fold_scores(
    frame: pd.DataFrame,
    root: Path,
    plan: FoldPlan,
    train_one: Callable[[DictConfig], object],
    compose_train: Callable[[list[str]], DictConfig],
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray, int]:
    """(training rows, their folds, out-of-fold scores, look-alike scores, folds trained now)."""
    train = frame[frame["split"] == TRAIN].reset_index(drop=True)
    if train.empty:
        raise ValueError("the manifest has no training rows to score")
    groups = capture_groups(train, plan.burst_gap_s, plan.reversed_suffix)
    folds = assign_folds(train["is_obstacle"].to_numpy().astype(int), groups, plan.k, plan.seed)
    scores, look_alikes, trained = np.full(len(train), np.nan), np.full(len(train), np.nan), 0
    labels, sources = train["is_obstacle"].to_numpy().astype(int), pair_sources(train, plan.reversed_suffix)
    for fold in range(plan.k):
        manifest = fold_manifest(pd.concat([train, frame[frame["split"] != TRAIN]], ignore_index=True), folds, fold)
        ckpt, cfg, fresh = train_fold(
            manifest, plan.work_dir / f"fold_{fold}", root, plan.train_overrides, train_one, compose_train
        )
        trained += fresh
        index = np.flatnonzero(folds == fold)
        held = train.iloc[index]
        scores[index], vectors = score_rows(held, ckpt, cfg, root, plan.batch_size)
        # the fold's model never saw any of these labels: its embedding and their labels are independent
        look_alikes[index] = look_alike_score(
            vectors, labels[index], np.zeros(len(index)), sources[index], plan.look_alike_k
        )
    return train, folds, scores, look_alikes, trained


def issue_sheet(issues: pd.DataFrame, root: Path, max_rows: int) -> Sheet:
    def score_or_none(value) -> str:
        return "none" if pd.isna(value) else f"{value:.3f}"

    cards = [
        Card(
            root / row.path,
            [
                f"#{row.rank} {row.path}",
                f"{row.site} / given {row.label}",
                f"deployed score {score_or_none(row.deployed_score)}, out-of-fold score {row.oof_score:.3f}, "
                f"look-alikes {score_or_none(row.look_alike_score)}, ranked by {row.issue_score:.3f}",
                row.why,
            ],
        )
        for row in issues.head(max_rows).itertuples(index=False)
    ]
    return Sheet(f"label issues ({len(issues)})", cards, NOTE)


def write_report(
    final: Path, scores: pd.DataFrame, issues: pd.DataFrame, summary: dict, root: Path, *, title: str, page: SheetLayout
) -> Path:
    with atomic_dir(final) as out:
        write_csv(out / "label_issues.csv", ISSUE_COLUMNS, issues[list(ISSUE_COLUMNS)].itertuples(index=False))
        write_csv(out / "oof_scores.csv", SCORE_COLUMNS, scores[list(SCORE_COLUMNS)].itertuples(index=False))
        write_json(out / "summary.json", summary)
        body = contact_sheet([issue_sheet(issues, root, page.max_shown)], final)
        write_page(out / "index.html", title, body, thumb_height=page.thumb_height)
    return final


def label_issues(
    dataset: str,
    manifest: Path,
    root: Path,
    out_dir: str | Path,
    plan: FoldPlan,
    train_one: Callable[[DictConfig], object],
    compose_train: Callable[[list[str]], DictConfig],
    *,
    opinions: dict[str, float],
    page: SheetLayout,
) -> LabelIssues:
    """Score the training split out of fold, flag and rank label issues, write the report (module
    docstring); `opinions`: each opinion's weight in the ranked score (`settings.OpinionWeights`)."""
    if not manifest.is_file():
        raise FileNotFoundError(f"dataset {dataset!r}: no manifest at {manifest} (dvc repro / dvc pull)")
    check_weights(opinions)  # before K trainings, not after
    started = time.monotonic()
    frame = read_manifest(manifest, root)
    if DEPLOYED_SCORE in frame:
        frame[DEPLOYED_SCORE] = deployed_scores(frame[DEPLOYED_SCORE], str(manifest))
    train, folds, scores, look_alikes, trained = out_of_fold_scores(frame, root, plan, train_one, compose_train)
    ranked, thresholds = rank_table(
        train, folds, scores, look_alikes, weights=opinions, reversed_suffix=plan.reversed_suffix
    )
    issues = ranked[ranked["flagged"]].reset_index(drop=True)
    summary = {
        "dataset": dataset,
        "manifest_sha256": file_sha256(manifest),
        "folds": plan.k,
        "fold_seed": plan.seed,
        "train_overrides": list(plan.train_overrides),
        "train_pairs": len(train),
        "fold_sizes": np.bincount(folds, minlength=plan.k).tolist(),
        "trained": trained,
        "opinions": dict(opinions),
        "look_alike_k": plan.look_alike_k,
        "scored_with_deployed": int(np.isfinite(ranked["deployed_score"]).sum()),
        "reversed_copies": int(ranked["reversed_copy"].sum()),
        "seconds": round(time.monotonic() - started, 1),
        "confident_thresholds": {label: float(t) for label, t in zip(CLASSES, thresholds)},
        "flagged": len(issues),
        "flagged_by_label": {label: int((issues["label"] == label).sum()) for label in CLASSES},
    }
    title = f"Out-of-fold label issues of {dataset}"
    out = write_report(Path(out_dir), ranked, issues, summary, root, title=title, page=page)
    return LabelIssues(out, ranked, issues, summary)


def log_wandb(settings: WandbSettings, result: LabelIssues, root: Path, *, name: str) -> dict:
    """One W&B run: the issues (the first `max_images` with their image), every out-of-fold score,
    the counts."""
    import wandb as wb

    issues = result.issues[list(ISSUE_COLUMNS)]
    rows = [
        [*row, wb.Image(str(root / row.path)) if k < settings.max_images else None]
        for k, row in enumerate(issues.itertuples(index=False))
    ]
    logged = {"label_issues": wb.Table(columns=[*issues.columns, "image"], data=rows)}
    counts = {"flagged": result.summary["flagged"], "train_pairs": result.summary["train_pairs"]}
    with wandb_run(settings, Path(settings.dir), run_id=None, name=name, config=result.summary) as (run, record):
        log_outputs(run, settings.prefix, logged=logged | {"oof_scores": table(result.scores)}, summary=counts)
    return record
