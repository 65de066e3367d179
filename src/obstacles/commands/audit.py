"""Audit the merged dataset with the current model: `python -m obstacles.commands.audit` (conf/audit.yaml).

Three lists, each a CSV, a section of index.html and a W&B table:

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
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from obstacles.checkpoints import find_checkpoint, load_classifier
from obstacles.config import entry_point
from obstacles.curation.embedding import ClassifierEmbedder, Embedded, InputSpec, embed_files
from obstacles.curation.similarity import near_duplicate_pairs, normalize
from obstacles.data.dataset import PAIR_CHANNELS, read_manifest
from obstacles.io.html import figure, section, write_page
from obstacles.io.outputs import atomic_dir, write_csv, write_text_atomic
from obstacles.io.provenance import file_sha256
from obstacles.splits import SPLITS

SIDE_COLUMNS = ("path", "site", "split", "label")
PAIR_COLUMNS = ("similarity", *(f"{c}_a" for c in SIDE_COLUMNS), *(f"{c}_b" for c in SIDE_COLUMNS))
SURPRISE_COLUMNS = ("path", "site", "split", "label", "score", "loss")
NN_QUANTILES = (0.5, 0.9, 0.99)
EXACT = 1.0  # similarity reported for byte-identical files
SIM_DECIMALS = 6  # in the CSVs: float32 features carry no more


def embed_manifest(cfg: DictConfig, root: Path, frame: pd.DataFrame, embedder: ClassifierEmbedder) -> Embedded:
    """Embed every manifest row; a 7-channel model gets each row's own site pixel_threshold."""
    spec = InputSpec(cfg.panels, cfg.panel_size, embedder.in_chans > PAIR_CHANNELS, 0.0)
    groups = frame.groupby("pixel_threshold").groups if spec.with_diff_mask else {0.0: frame.index}
    parts = []
    for threshold, index in groups.items():
        files = [root / p for p in frame.loc[index, "path"]]
        parts.append(
            embed_files(
                files,
                embedder,
                replace(spec, pixel_threshold=float(threshold)),
                cache_dir=cfg.cache_dir,
                batch_size=cfg.batch_size,
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


def duplicate_pairs(frame: pd.DataFrame, vectors: np.ndarray, cfg: DictConfig) -> tuple[pd.DataFrame, np.ndarray]:
    """(pairs i < j with similarity, nearest-neighbour similarity per row): embedding neighbours
    at or above dup_thresh plus byte-identical files."""
    i, j, sims, nearest = near_duplicate_pairs(normalize(vectors), float(cfg.dup_thresh), int(cfg.block_rows))
    pairs = pd.DataFrame({"i": i, "j": j, "similarity": sims.astype(np.float64)})
    by_content = frame.reset_index(drop=True).groupby("sha256").indices.values()
    exact = [(a, b) for rows in by_content for k, a in enumerate(rows) for b in rows[k + 1 :]]
    if exact:
        pairs = pd.concat([pairs, pd.DataFrame(exact, columns=["i", "j"]).assign(similarity=EXACT)])
        nearest[[r for pair in exact for r in pair]] = EXACT
    pairs = pairs.sort_values("similarity", ascending=False).drop_duplicates(["i", "j"])
    return pairs.reset_index(drop=True), nearest


def original_stem(path: str, reversed_suffix: str) -> str:
    stem = Path(path).stem
    return stem.removesuffix(reversed_suffix)


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
    stems = np.array([original_stem(p, reversed_suffix) for p in path], dtype=object)
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


def html_sections(cfg: DictConfig, tables: dict[str, pd.DataFrame], root: Path, page_dir: Path) -> str:
    """Side-by-side pairs for the pair tables, single images with score and loss for the rest."""

    def card(path: str, *lines: str) -> str:
        return figure(root / path, page_dir, [path, *lines])

    notes = {
        "leakage": "near-duplicates on two sides of the split (left: the earlier of train, val, eval)",
        "label_conflicts": "near-duplicates with different labels (left: obstacle)",
        "surprising": "highest loss under the model given the label: relabeling candidates",
    }
    parts = []
    for name, table in tables.items():
        rows = []
        for row in table.head(cfg.sheet.max_rows).itertuples(index=False):
            if name == "surprising":
                rows.append(card(row.path, f"{row.split} / {row.label}", f"score {row.score:.3f}, loss {row.loss:.3f}"))
            else:
                a = card(row.path_a, f"{row.split_a} / {row.label_a}")
                b = card(row.path_b, f"{row.split_b} / {row.label_b}")
                rows.append(f'<div class="row">{a}{b}<p>similarity {row.similarity:.4f}</p></div>')
        content = f'<div class="sheet">{"".join(rows)}</div>' if name == "surprising" else "".join(rows)
        parts.append(section(f"{name} ({len(table)})", content or "<p>none</p>", notes[name]))
    return "".join(parts)


def log_wandb(cfg: DictConfig, tables: dict[str, pd.DataFrame], summary: dict, root: Path) -> str:
    """One W&B run (job_type audit) with a table per list; the first rows carry their images."""
    import wandb

    Path(cfg.wandb.dir).mkdir(parents=True, exist_ok=True)
    run = wandb.init(
        project=cfg.wandb.project,
        entity=cfg.wandb.entity,
        mode=cfg.wandb.mode,
        dir=cfg.wandb.dir,
        job_type="audit",
        name=f"audit-{cfg.dataset.name}",
        config=summary,
    )
    try:
        for name, table in tables.items():
            image_columns = [c for c in table.columns if c.startswith("path")]
            columns = [*table.columns, *(f"image{c[4:]}" for c in image_columns)]
            rows = []
            for k, row in enumerate(table.itertuples(index=False)):
                images = [
                    wandb.Image(str(root / getattr(row, c))) if k < cfg.wandb.max_images else None
                    for c in image_columns
                ]
                rows.append([*row, *images])
            run.log({name: wandb.Table(columns=columns, data=rows)})
        run.summary.update(summary["counts"])
    finally:
        run.finish()
    return run.id


def write_report(cfg: DictConfig, tables: dict[str, pd.DataFrame], summary: dict, skipped: list, root: Path) -> Path:
    final = Path(cfg.out_dir)
    with atomic_dir(final) as out:
        for name, table in tables.items():
            write_csv(out / f"{name}.csv", table.columns, table.itertuples(index=False))
        write_csv(out / "skipped.csv", ("file", "reason"), sorted((str(p), r) for p, r in skipped))
        write_text_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
        title = f"Audit of {cfg.dataset.name} (near-duplicate: similarity >= {cfg.dup_thresh})"
        write_page(
            out / "index.html",
            title,
            html_sections(cfg, tables, root, final),
            thumb_height=cfg.sheet.thumb_height,
        )
    return final


def usable_rows(frame: pd.DataFrame, embedded: Embedded, root: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Manifest rows whose image could be read, with their embeddings and logits in row order."""
    row_of = {path: k for k, path in enumerate(embedded.paths)}
    frame = frame[[root / p in row_of for p in frame["path"]]].reset_index(drop=True)
    if frame.empty:
        raise ValueError(f"{root}: none of the manifest's images is readable ({embedded.skipped[:1]})")
    order = [row_of[root / p] for p in frame["path"]]
    return frame, embedded.vectors[order], embedded.logits[order]


def run(cfg: DictConfig) -> Path:
    root, manifest = Path(cfg.paths.root_dir), Path(cfg.dataset.manifest)  # manifest paths: under root
    if not manifest.is_file():
        raise FileNotFoundError(f"dataset {cfg.dataset.name!r}: no manifest at {manifest} (dvc repro / dvc pull)")
    ckpt = find_checkpoint(cfg.paths.experiments_dir, cfg.ckpt_path)
    model, _ = load_classifier(ckpt)
    rows = read_manifest(manifest, root)
    embedded = embed_manifest(cfg, root, rows, ClassifierEmbedder(model, ckpt))
    frame, vectors, logits = usable_rows(rows, embedded, root)
    pairs, nearest = duplicate_pairs(frame, vectors, cfg)
    tables = {
        "leakage": leakage(frame, pairs),
        "label_conflicts": label_conflicts(frame, pairs, cfg.no_mask_train.reversed_suffix),
        "surprising": surprising(frame, logits, int(cfg.top_surprising)),
    }
    summary = {
        "dataset": cfg.dataset.name,
        "manifest_sha256": file_sha256(manifest),
        "checkpoint": str(ckpt),
        "dup_thresh": float(cfg.dup_thresh),
        "images": len(frame),
        "counts": {name: len(table) for name, table in tables.items()} | {"skipped": len(embedded.skipped)},
        "nearest_neighbour_similarity": {f"q{round(q * 100)}": float(np.quantile(nearest, q)) for q in NN_QUANTILES},
    }
    out = write_report(cfg, tables, summary, embedded.skipped, root)
    counts = ", ".join(f"{n} {k}" for k, n in summary["counts"].items())
    print(
        f"[audit {cfg.dataset.name}] {len(frame)} images ({embedded.computed} embedded, the rest cached): "
        f"{counts}; report in {out}"
    )
    if cfg.wandb.enabled:
        print(f"[audit {cfg.dataset.name}] W&B run {log_wandb(cfg, tables, summary, root)} ({cfg.wandb.mode})")
    return out


main = entry_point("audit", run)

if __name__ == "__main__":
    main()
