"""The data map's outputs: one self-contained HTML page (inline style, script and data; images
linked relatively, so it opens offline from disk), the scatter as PNGs (one per colouring) and the
cluster table. Every text enters the page escaped (`obstacles.io.html`), data through `script_json`.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from obstacles.curation.audit import bce_loss, embed_manifest, usable_rows
from obstacles.curation.data_map import DECIMALS, JUDGED, data_map
from obstacles.curation.embedding import ClassifierEmbedder
from obstacles.curation.settings import MapSettings
from obstacles.data.dataset import read_manifest
from obstacles.infra.tracking import WandbSettings, log_outputs, wandb_run
from obstacles.io.html import escape, relative_url, script_json, section, write_page
from obstacles.io.outputs import atomic_dir, save_figure, write_csv
from obstacles.lineage.names import DEPLOYED_SCORE

CATEGORICAL = ("split", "label", "site", "cluster")
CONTINUOUS = ("loss", "deployed_score", "score")
SHOWN_FIELDS = ("path", "site", "split", "label", "cluster", "score", "loss", "deployed_score")
TEMPLATES = ("obstacles.curation", "templates")
PNG_DPI = 110
MAP_STYLE = """
#map { display: flex; gap: 16px; align-items: flex-start; }
#scatter { background: #fff; border: 1px solid #ddd; }
#scatter circle { cursor: pointer; opacity: 0.8; } #scatter circle:hover { stroke: #000; }
#preview { width: 420px; } #preview img { max-width: 100%; }
#preview-text { white-space: pre-wrap; word-break: break-all; font-size: 0.85em; }
#legend span { margin-right: 12px; } #legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
tr.flagged { background: #fde2e2; }
.figures img { height: 320px; border: 1px solid #ddd; }
"""


def point_records(points: pd.DataFrame, root: Path, page_dir: Path) -> list[dict]:
    records = []
    for row in points.itertuples(index=False):
        record = {f: getattr(row, f) for f in SHOWN_FIELDS}
        record.update(x=float(row.x), y=float(row.y), src=relative_url(root / row.path, page_dir))
        records.append({k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in record.items()})
    for record in records:
        record["cluster"] = int(record["cluster"])
    return records


def cluster_html(clusters: pd.DataFrame) -> str:
    header = "".join(f"<th>{escape(c)}</th>" for c in clusters.columns)
    rows = []
    for row in clusters.itertuples(index=False):
        cells = "".join(f"<td>{escape('' if pd.isna(v) else v)}</td>" for v in row)
        css = ' class="flagged"' if row.flags else ""
        rows.append(f"<tr{css}>{cells}</tr>")
    return f"<table><tr>{header}</tr>{''.join(rows)}</table>"


def scatter_pngs(points: pd.DataFrame, out: Path, *, dpi: int) -> dict[str, Path]:
    """map_<field>.png for every colouring."""
    dpi = dpi or PNG_DPI
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = {}
    for field in (*CATEGORICAL, *CONTINUOUS):
        fig, ax = plt.subplots(figsize=(7, 6))
        if field in CATEGORICAL:
            for k, (value, part) in enumerate(points.groupby(field, sort=True)):
                ax.scatter(part["x"], part["y"], s=8, color=f"C{k % 10}", label=str(value))
            ax.legend(fontsize=7, markerscale=2, loc="best")
        else:
            values = pd.to_numeric(points[field], errors="coerce")
            missing = values.isna()
            ax.scatter(points["x"][missing], points["y"][missing], s=6, color="#cccccc", label="none")
            shown = ax.scatter(points["x"][~missing], points["y"][~missing], s=8, c=values[~missing], cmap="viridis")
            fig.colorbar(shown, ax=ax, label=field)
        ax.set_title(f"t-SNE of the model's features, coloured by {field}")
        ax.set_xticks([])
        ax.set_yticks([])
        written[field] = save_figure(fig, out / f"map_{field}.png", dpi=dpi)
        plt.close(fig)
    return written


def write_map_page(
    path: Path,
    title: str,
    points: pd.DataFrame,
    clusters: pd.DataFrame,
    pngs: dict,
    root: Path,
    *,
    size: int,
    radius: float,
    final_dir: Path,
) -> Path:
    """The page, links made relative to `final_dir` (where the folder ends up)."""
    script = (resources.files(TEMPLATES[0]) / TEMPLATES[1] / "data_map.js").read_text(encoding="utf-8")
    data = {
        "points": point_records(points, root, final_dir),
        "fields": list(SHOWN_FIELDS),
        "colour_by": [*CATEGORICAL, *CONTINUOUS],
        "continuous": list(CONTINUOUS),
        "size": int(size),
        "radius": float(radius),
    }
    flagged = clusters[clusters["flags"] != ""]
    note = (
        f"{len(clusters)} clusters (k-means on the model's features), {len(flagged)} flagged: absent from "
        f"{' or '.join(JUDGED)}, or an error rate on them far above the rest"
    )
    scatter = (
        '<p><label>colour by <select id="colour-by"></select></label> <span id="legend"></span></p>'
        '<div id="map"><svg id="scatter" xmlns="http://www.w3.org/2000/svg"></svg>'
        '<div id="preview"><div id="preview-image"></div><pre id="preview-text">'
        "hover a point for its image; click pins it</pre></div></div>"
    )
    figures = "".join(
        f'<a href="{escape(relative_url(p, final_dir))}"><img src="{escape(relative_url(p, final_dir))}" alt=""></a>'
        for p in pngs.values()
    )
    body = (
        section("map", scatter, "t-SNE of every pair's embedding")
        + section("clusters", cluster_html(clusters), note)
        + section("figures", f'<div class="figures">{figures}</div>')
        + f'<script type="application/json" id="map-data">{script_json(data)}</script>\n'
        + f"<script>\n{script}\n</script>\n"
        + f"<style>{MAP_STYLE}</style>"
    )
    return write_page(path, title, body)


@dataclass(frozen=True)
class MapResult:
    out: Path
    points: pd.DataFrame
    clusters: pd.DataFrame
    pngs: dict
    computed: int

    def summary_line(self) -> str:
        flagged = self.clusters[self.clusters["flags"] != ""]
        listed = "; ".join(f"cluster {r.cluster}: {r.flags}" for r in flagged.itertuples(index=False))
        return (
            f"{len(self.points)} pairs ({self.computed} embedded, the rest cached) in {len(self.clusters)} clusters, "
            f"{len(flagged)} flagged{': ' + listed if listed else ''}; page {self.out / 'index.html'}"
        )


def map_dataset(
    dataset: str,
    manifest: Path,
    root: Path,
    out_dir: str | Path,
    embedder: ClassifierEmbedder,
    settings: MapSettings,
    *,
    panels: int | None,
    cache_dir: str | Path | None,
    batch_size: int,
    size: int,
    radius: float,
) -> MapResult:
    """Embed the manifest's pairs with the model, map and cluster them, write the folder."""
    if not manifest.is_file():
        raise FileNotFoundError(f"dataset {dataset!r}: no manifest at {manifest} (dvc repro / dvc pull)")
    rows = read_manifest(manifest, root)
    embedded = embed_manifest(
        rows, root, embedder, panels=panels, panel_size=embedder.panel_size, cache_dir=cache_dir, batch_size=batch_size
    )
    frame, vectors, logits = usable_rows(rows, embedded, root)
    frame = frame.assign(score=(1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).round(DECIMALS))
    frame["loss"] = bce_loss(logits, frame["is_obstacle"].to_numpy()).round(DECIMALS)
    if DEPLOYED_SCORE not in frame:
        frame[DEPLOYED_SCORE] = np.nan
    frame[DEPLOYED_SCORE] = pd.to_numeric(frame[DEPLOYED_SCORE], errors="coerce")
    points, clusters = data_map(vectors, frame, settings)
    final = Path(out_dir)
    with atomic_dir(final) as out:
        pngs = scatter_pngs(points, out, dpi=PNG_DPI)
        columns = [*SHOWN_FIELDS, "x", "y"]
        write_csv(out / "points.csv", columns, points[columns].itertuples(index=False))
        write_csv(out / "clusters.csv", clusters.columns, clusters.itertuples(index=False))
        write_csv(out / "skipped.csv", ("file", "reason"), sorted((str(p), r) for p, r in embedded.skipped))
        final_pngs = {name: final / path.name for name, path in pngs.items()}
        title = f"Map of {dataset}"
        write_map_page(
            out / "index.html", title, points, clusters, final_pngs, root, size=size, radius=radius, final_dir=final
        )
    return MapResult(final, points, clusters, {n: final / p.name for n, p in pngs.items()}, embedded.computed)


def log_wandb(settings: WandbSettings, result: MapResult, *, name: str) -> dict:
    """One W&B run: the PNGs, the cluster table and the points."""
    summary = {
        "pairs": len(result.points),
        "clusters": len(result.clusters),
        "flagged_clusters": int((result.clusters["flags"] != "").sum()),
    }
    with wandb_run(settings, Path(settings.dir), run_id=None, name=name, config=summary) as (run, record):
        log_outputs(
            run,
            settings.prefix,
            tables={"clusters": result.clusters, "points": result.points[[*SHOWN_FIELDS, "x", "y"]]},
            images={f"map_{n}": p for n, p in result.pngs.items()},
            summary=summary,
        )
    return record
