"""Audit a dataset with the current model: three lists, each a CSV, a section of index.html and
(`log_wandb`) a W&B table.

- leakage.csv: near-duplicates on two sides of the train/val/eval split (they flatter every metric);
- label_conflicts.csv: near-duplicates with different labels (one of them is probably wrong);
  an image and its own reversed copy (`<stem>` / `<stem>_reversed`) differ in label by design
  and are not listed;
- surprising.csv: the images with the highest BCE loss under the model: relabeling candidates.

Near-duplicate: similarity (1 - cosine distance of the model's penultimate features) at or above
`dup_thresh`, or the same file content (sha256). summary.json holds the counts and the spread of
nearest-neighbour similarities, to help choose `dup_thresh` for a model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from obstacles.curation.embedding import ClassifierEmbedder, Embedded, Embedder, InputSpec, embed_files
from obstacles.curation.similarity import near_duplicate_pairs, normalize
from obstacles.data.dataset import read_manifest
from obstacles.infra.tracking import WandbSettings, log_outputs, wandb_run
from obstacles.io.html import Card, Row, Sheet, SheetLayout, contact_sheet, write_page
from obstacles.io.outputs import atomic_dir, write_csv, write_text_atomic
from obstacles.io.provenance import file_sha256
from obstacles.lineage.names import PAIR_CHANNELS, SPLITS, source_stem

SIDE_COLUMNS = ("path", "site", "split", "label")
PAIR_COLUMNS = ("similarity", *(f"{c}_a" for c in SIDE_COLUMNS), *(f"{c}_b" for c in SIDE_COLUMNS))
SURPRISE_COLUMNS = ("path", "site", "split", "label", "score", "loss")
NN_QUANTILES = (0.5, 0.9, 0.99)
EXACT = 1.0  # similarity reported for byte-identical files
SIM_DECIMALS = 6  # in the CSVs: float32 features carry no more
NOTES = {
    "leakage": "near-duplicates on two sides of the split (left: the earlier of train, val, eval)",
    "label_conflicts": "near-duplicates with different labels (left: obstacle)",
    "surprising": "highest loss under the model given the label: relabeling candidates",
}


@dataclass(frozen=True)
class AuditResult:
    """The report folder, the three tables and summary.json's content."""

    out: Path
    tables: dict[str, pd.DataFrame]
    summary: dict
    computed: int  # images embedded (the rest came from the cache)

    def summary_line(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in self.summary["counts"].items())
        return (
            f"{self.summary['images']} images ({self.computed} embedded, the rest cached): {counts}; "
            f"report in {self.out}"
        )


def embed_manifest(
    frame: pd.DataFrame,
    root: Path,
    embedder: ClassifierEmbedder,
    *,
    panels: int | None,
    panel_size: int | None,
    cache_dir: str | Path | None,
    batch_size: int,
) -> Embedded:
    """Embed every manifest row; a 7-channel model gets each row's own site pixel_threshold, and
    panel_size None means the size the model was trained at (as `embedding.input_spec`: a model
    trained on 96 px panels scores 200 px ones differently)."""
    spec = InputSpec(panels, panel_size or embedder.panel_size, embedder.in_chans > PAIR_CHANNELS, 0.0)
    groups = frame.groupby("pixel_threshold").groups if spec.with_diff_mask else {0.0: frame.index}
    parts = []
    for threshold, index in groups.items():
        files = [root / p for p in frame.loc[index, "path"]]
        parts.append(
            embed_files(
                files,
                embedder,
                replace(spec, pixel_threshold=float(threshold)),
                cache_dir=cache_dir,
                batch_size=batch_size,
                desc="embed dataset",
            )
        )
    vectors = [part.vectors for part in parts if part.paths]
    return Embedded(
        paths=[p for part in parts for p in part.paths],
        vectors=np.concatenate(vectors) if vectors else np.zeros((0, 0), np.float32),
        logits=np.concatenate([part.logits for part in parts]),
        skipped=[s for part in parts for s in part.skipped],
        computed=sum(part.computed for part in parts),
    )


def duplicate_pairs(
    frame: pd.DataFrame, vectors: np.ndarray, dup_thresh: float, block_rows: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """(pairs i < j with similarity, nearest-neighbour similarity per row): embedding neighbours
    at or above dup_thresh plus byte-identical files."""
    i, j, sims, nearest = near_duplicate_pairs(normalize(vectors), float(dup_thresh), int(block_rows))
    pairs = pd.DataFrame({"i": i, "j": j, "similarity": sims.astype(np.float64)})
    by_content = frame.reset_index(drop=True).groupby("sha256").indices.values()
    exact = [(a, b) for rows in by_content for k, a in enumerate(rows) for b in rows[k + 1 :]]
    if exact:
        pairs = pd.concat([pairs, pd.DataFrame(exact, columns=["i", "j"]).assign(similarity=EXACT)])
        nearest[[r for pair in exact for r in pair]] = EXACT
    pairs = pairs.sort_values("similarity", ascending=False).drop_duplicates(["i", "j"])
    return pairs.reset_index(drop=True), nearest


def pair_table(frame: pd.DataFrame, pairs: pd.DataFrame, keep: np.ndarray, a_first: np.ndarray) -> pd.DataFrame:
    """Rows of the kept pairs, side a chosen by a_first (else swapped), best similarity first."""
    i, j = pairs["i"].to_numpy()[keep], pairs["j"].to_numpy()[keep]
    first, second = np.where(a_first[keep], i, j), np.where(a_first[keep], j, i)
    table = {"similarity": pairs["similarity"].to_numpy()[keep].round(SIM_DECIMALS)}
    for side, rows in (("a", first), ("b", second)):
        for column in SIDE_COLUMNS:
            table[f"{column}_{side}"] = frame[column].to_numpy()[rows]
    return pd.DataFrame(table, columns=PAIR_COLUMNS)


def leakage(frame: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Pairs on two sides of a split (train/val/eval): a near-duplicate across them flatters the
    checkpoint choice (val) or the reported metrics (eval). Side a is the earlier split."""
    rank = frame["split"].map({split: index for index, split in enumerate(SPLITS)}).to_numpy()
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    return pair_table(frame, pairs, rank[i] != rank[j], rank[i] < rank[j])


def label_conflicts(frame: pd.DataFrame, pairs: pd.DataFrame, reversed_suffix: str) -> pd.DataFrame:
    """Pairs with different labels, except an image and its reversed copy; side a is the obstacle."""
    label, path = frame["label"].to_numpy(), frame["path"].to_numpy()
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    stems = np.array([source_stem(p, reversed_suffix) for p in path], dtype=object)
    reversal = (stems[i] == stems[j]) & (frame["site"].to_numpy()[i] == frame["site"].to_numpy()[j])
    return pair_table(frame, pairs, (label[i] != label[j]) & ~reversal, frame["is_obstacle"].to_numpy()[i])


def bce_loss(logits: np.ndarray, is_obstacle: np.ndarray) -> np.ndarray:
    """Per-image binary cross-entropy from logits, overflow-free (softplus)."""
    signed = np.where(is_obstacle, -logits, logits).astype(np.float64)
    return np.logaddexp(0.0, signed)


def surprising(frame: pd.DataFrame, logits: np.ndarray, top: int) -> pd.DataFrame:
    table = frame[["path", "site", "split", "label"]].copy()
    table["score"] = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
    table["loss"] = bce_loss(logits, frame["is_obstacle"].to_numpy())
    return table.sort_values("loss", ascending=False, kind="stable").head(top)[list(SURPRISE_COLUMNS)]


def audit_sheets(tables: dict[str, pd.DataFrame], root: Path, max_rows: int) -> list[Sheet]:
    """Side-by-side pairs for the pair tables, single images with score and loss for the rest."""

    def card(path: str, *lines: str) -> Card:
        return Card(root / path, [path, *lines])

    sheets = []
    for name, table in tables.items():
        title, shown = f"{name} ({len(table)})", table.head(max_rows).itertuples(index=False)
        if name == "surprising":
            cards = [
                card(row.path, f"{row.split} / {row.label}", f"score {row.score:.3f}, loss {row.loss:.3f}")
                for row in shown
            ]
            sheets.append(Sheet(title, cards, NOTES[name]))
        else:
            rows = [
                Row(
                    [
                        card(row.path_a, f"{row.split_a} / {row.label_a}"),
                        card(row.path_b, f"{row.split_b} / {row.label_b}"),
                    ],
                    f"similarity {row.similarity:.4f}",
                )
                for row in shown
            ]
            sheets.append(Sheet(title, rows, NOTES[name], layout="rows"))
    return sheets


def log_wandb(
    settings: WandbSettings, tables: dict[str, pd.DataFrame], summary: dict, root: Path, *, name: str
) -> dict:
    """One W&B run (conf/audit.yaml `wandb`: project, mode, job_type audit, ...) with a table per
    list; the first `max_images` rows carry their images. Returns the run's record (run_id, mode)."""
    import wandb as wb

    logged = {}
    for table_name, table in tables.items():
        image_columns = [c for c in table.columns if c.startswith("path")]
        columns = [*table.columns, *(f"image{c[4:]}" for c in image_columns)]
        rows = []
        for k, row in enumerate(table.itertuples(index=False)):
            images = [wb.Image(str(root / getattr(row, c))) if k < settings.max_images else None for c in image_columns]
            rows.append([*row, *images])
        logged[table_name] = wb.Table(columns=columns, data=rows)
    with wandb_run(settings, Path(settings.dir), run_id=None, name=name, config=summary) as (run, record):
        log_outputs(run, settings.prefix, logged=logged, summary=summary["counts"])
    return record


def write_report(
    final: Path,
    tables: dict[str, pd.DataFrame],
    summary: dict,
    skipped: list,
    root: Path,
    *,
    title: str,
    page: SheetLayout,
) -> Path:
    """The CSVs, skipped.csv, summary.json and index.html, replacing `final` as a whole."""
    with atomic_dir(final) as out:
        for name, table in tables.items():
            write_csv(out / f"{name}.csv", table.columns, table.itertuples(index=False))
        write_csv(out / "skipped.csv", ("file", "reason"), sorted((str(p), r) for p, r in skipped))
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        sheets = audit_sheets(tables, root, page.max_shown)
        write_page(out / "index.html", title, contact_sheet(sheets, final), thumb_height=page.thumb_height)
    return final


def usable_rows(frame: pd.DataFrame, embedded: Embedded, root: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Manifest rows whose image could be read, with their embeddings and logits in row order."""
    row_of = {path: k for k, path in enumerate(embedded.paths)}
    frame = frame[[root / p in row_of for p in frame["path"]]].reset_index(drop=True)
    if frame.empty:
        raise ValueError(f"{root}: none of the manifest's images is readable ({embedded.skipped[:1]})")
    order = [row_of[root / p] for p in frame["path"]]
    return frame, embedded.vectors[order], embedded.logits[order]


def audit(
    dataset: str,
    manifest: Path,
    root: Path,
    out_dir: str | Path,
    load_embedder: Callable[[], Embedder],
    *,
    dup_thresh: float,
    top_surprising: int,
    reversed_suffix: str,
    panels: int | None,
    panel_size: int | None,
    cache_dir: str | Path | None,
    batch_size: int,
    block_rows: int,
    page: SheetLayout,
) -> AuditResult:
    """Audit the manifest's images (paths under root) with the classifier load_embedder gives,
    called once the manifest is found; write the report to out_dir (module docstring)."""
    if not manifest.is_file():
        raise FileNotFoundError(f"dataset {dataset!r}: no manifest at {manifest} (dvc repro / dvc pull)")
    embedder = load_embedder()
    if not isinstance(embedder, ClassifierEmbedder):
        raise ValueError(
            f"the audit needs the trained classifier (embedder=checkpoint), not {embedder.description}: "
            "its logits rank the surprising images"
        )
    rows = read_manifest(manifest, root)
    embedded = embed_manifest(
        rows, root, embedder, panels=panels, panel_size=panel_size, cache_dir=cache_dir, batch_size=batch_size
    )
    frame, vectors, logits = usable_rows(rows, embedded, root)
    pairs, nearest = duplicate_pairs(frame, vectors, dup_thresh, block_rows)
    tables = {
        "leakage": leakage(frame, pairs),
        "label_conflicts": label_conflicts(frame, pairs, reversed_suffix),
        "surprising": surprising(frame, logits, int(top_surprising)),
    }
    summary = {
        "dataset": dataset,
        "manifest_sha256": file_sha256(manifest),
        "checkpoint": str(embedder.ckpt_path),
        "dup_thresh": float(dup_thresh),
        "images": len(frame),
        "counts": {name: len(table) for name, table in tables.items()} | {"skipped": len(embedded.skipped)},
        "nearest_neighbour_similarity": {f"q{round(q * 100)}": float(np.quantile(nearest, q)) for q in NN_QUANTILES},
    }
    title = f"Audit of {dataset} (near-duplicate: similarity >= {dup_thresh})"
    out = write_report(Path(out_dir), tables, summary, embedded.skipped, root, title=title, page=page)
    return AuditResult(out, tables, summary, embedded.computed)
