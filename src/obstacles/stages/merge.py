"""balanced: merge every registered site into the cumulative dataset with a manifest.

Layout: sites/<site>/<label>/, train/<label>/, val/<label>/, eval/<label>/ (merged names are
prefixed `<site>__` so two sites can never collide), manifest.csv listing the split copies.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from omegaconf import DictConfig

from obstacles.config import entry_point
from obstacles.io.outputs import atomic_dir, link_or_copy, write_csv
from obstacles.io.parallel import parallel_map
from obstacles.io.provenance import file_sha256
from obstacles.stages.common import site_dir
from obstacles.stages.diff import DIFF_TABLE
from obstacles.stages.split import SPLIT_TABLE

MANIFEST_HEADER = ("path", "site", "split", "label", "sha256", "diff_metric", "pixel_threshold")
SITE_SEPARATOR = "__"


def _read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: run that site's stages first (dvc repro)")
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def link_and_hash(job: tuple[str, tuple[str, ...]]) -> str:
    """Link one image under each of its merged names; its sha256 for the manifest."""
    source, targets = job
    for target in targets:
        link_or_copy(source, target)
    return file_sha256(source)


def merge_site(site: str, folder: Path, out: Path, workers: int) -> list[tuple]:
    """Link one site's split images into the merged layout; manifest rows for them."""
    diffs = {(r["label"], r["image"]): r for r in _read_rows(folder / DIFF_TABLE)}
    entries = _read_rows(folder / SPLIT_TABLE)
    for split, label in {(e["split"], e["label"]) for e in entries}:
        (out / split / label).mkdir(parents=True, exist_ok=True)
        (out / "sites" / site / label).mkdir(parents=True, exist_ok=True)
    placed, measured, jobs = [], [], []
    for entry in entries:  # plain strings: this loop runs once per image of every site
        label, image, split = entry["label"], entry["image"], entry["split"]
        merged = f"{split}/{label}/{site}{SITE_SEPARATOR}{image}"
        targets = tuple(os.path.join(out, relative) for relative in (merged, f"sites/{site}/{label}/{image}"))
        jobs.append((os.path.join(folder, split, label, image), targets))
        placed.append((merged, site, split, label))
        diff = diffs[(label, image)]
        measured.append((diff["diff_metric"], diff["pixel_threshold"]))
    hashes = parallel_map(link_and_hash, jobs, workers=workers, desc=f"balanced {site}")
    return [(*where, sha256, *diff) for where, sha256, diff in zip(placed, hashes, measured)]  # MANIFEST_HEADER


def run(cfg: DictConfig) -> Path:
    sites = list(cfg.sites)
    if not sites:
        raise ValueError("no sites registered in conf/sites.yaml: add one with obstacles.add_recording")
    final = Path(cfg.dataset.dir)
    with atomic_dir(final) as out:
        rows = [row for site in sites for row in merge_site(site, site_dir(cfg, site), out, cfg.workers)]
        write_csv(out / "manifest.csv", MANIFEST_HEADER, sorted(rows))
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
