"""balanced: every registered site's pairs in one manifest (`manifest.csv`: path, site, split,
label, sha256, diff_metric, pixel_threshold, deployed_score), a join of each site's split and diff
tables.

No image is linked or copied, so adding or editing one site costs that site's rows, not the
dataset; `python -m obstacles.commands.folder_view view=balanced` writes the field's folder layout
(`sites/<site>/<label>/`, `<split>/<label>/`) on demand.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.io.manifests import ManifestError, read_rows
from obstacles.io.outputs import atomic_dir, write_csv
from obstacles.lineage.names import (
    DEPLOYED_SCORE,
    DIFF_COLUMNS,
    DIFF_TABLE,
    MANIFEST_NAME,
    MANIFEST_WRITTEN_COLUMNS,
    SPLIT_COLUMNS,
    SPLIT_TABLE,
)
from obstacles.lineage.settings import site_dir


def site_rows(site: str, folder: Path) -> list[tuple]:
    """One site's manifest rows (MANIFEST_WRITTEN_COLUMNS): its split table joined with its diff metrics."""
    diff_table = folder / DIFF_TABLE
    diffs = {(row["label"], row["image"]): row for _, row in read_rows(diff_table, DIFF_COLUMNS)}
    rows = []
    for line, entry in read_rows(folder / SPLIT_TABLE, SPLIT_COLUMNS):  # plain strings: once per image
        diff = diffs.get((entry["label"], entry["image"]))
        if diff is None:
            raise ManifestError(
                f"{folder / SPLIT_TABLE}:{line}: {entry['label']}/{entry['image']} has no row in {diff_table}: "
                "re-run that site's diff_metrics (dvc repro)"
            )
        where = (entry["path"], site, entry["split"], entry["label"], entry["sha256"])
        rows.append((*where, diff["diff_metric"], diff["pixel_threshold"], entry[DEPLOYED_SCORE]))
    return rows


def run(cfg: DictConfig) -> Path:
    sites = list(cfg.sites)
    if not sites:
        raise ValueError("no sites registered in conf/sites.yaml: add one with obstacles.commands.add_recording")
    final = Path(cfg.dataset.dir)
    rows = [row for site in sites for row in site_rows(site, site_dir(cfg, site))]
    with atomic_dir(final) as out:
        write_csv(out / MANIFEST_NAME, MANIFEST_WRITTEN_COLUMNS, sorted(rows))
    counts = {}
    for _, site, split, label, *_ in rows:
        counts[(site, split, label)] = counts.get((site, split, label), 0) + 1
    print(f"[balanced {cfg.dataset.name}] {len(rows)} pairs from {len(sites)} site(s)")
    for (site, split, label), n in sorted(counts.items()):
        print(f"  {site:<24} {split:<5} {label:<12} {n:>6}")
    return final


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
