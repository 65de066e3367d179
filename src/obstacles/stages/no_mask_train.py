"""no_mask_train: drop the mask panel and add reversed images (one decode, one encode each): the
only stage that writes image files, `<label>/<stem>[_reversed].jpg`, listed in `pairs.csv`
(image, path, sha256, label, source, deployed_score: the source frame's, empty for a reversed pair,
which the deployed model never scored).

The decode also yields each pair's diff histogram (`diff_histograms.npy`), so diff_metrics gets
the changed-pixel fraction at any pixel threshold without decoding the pair a second time.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from obstacles.infra.config import entry_point
from obstacles.infra.parallel import parallel_map
from obstacles.io.histograms import write_histograms
from obstacles.io.images import BadImage, decode_image, encode_jpeg, split_panels
from obstacles.io.manifests import project_relative, read_rows, resolve
from obstacles.io.outputs import atomic_dir, write_csv
from obstacles.lineage.names import (
    DEPLOYED_SCORE,
    HISTOGRAMS_NAME,
    MASK_TRAIN_COLUMNS,
    MASK_TRAIN_TABLE,
    NO_MASK_TRAIN_DIR,
    NO_OBSTACLE,
    OBSTACLE,
    PAIR_SUFFIX,
    PAIRS_COLUMNS,
    PAIRS_TABLE,
    SKIP,
)
from obstacles.lineage.settings import bad_inputs, site_dir, site_name
from obstacles.weights.curve import diff_histogram


def to_pair(image: np.ndarray, n_panels: int, reverse: bool) -> np.ndarray:
    """[reference | current] (or [current | reference] when reversed) without the mask panel."""
    reference, current = split_panels(image, n_panels)[:2]
    return np.hstack((current, reference) if reverse else (reference, current))


Target = tuple[str, str, bool, str]  # (label folder, file name, reversed, deployed score or "")


@dataclass(frozen=True)
class Unmask:
    """What a worker needs to turn one source into its pairs (built once from the config)."""

    panels: int
    quality: int
    out: str

    def __call__(self, job: tuple[str, list[Target]]) -> tuple[np.ndarray, list[str]] | str:
        """Decode one source once; write each pair it yields (plain and/or reversed); its diff
        histogram and each written pair's sha256.

        A source the decoder rejects (triage checked only its structure) writes nothing: why, instead.
        """
        source, targets = job
        try:
            image = decode_image(Path(source).read_bytes())  # bytes: the reason comes without the path
        except BadImage as exc:
            return str(exc)
        except MemoryError as exc:  # triage bounds the pixel count from the header; never a nameless crash
            return f"too large to decode ({type(exc).__name__}: {exc})"
        hashes = []
        for label, name, reverse, _ in targets:
            data = encode_jpeg(to_pair(image, self.panels, reverse), self.quality)
            with open(os.path.join(self.out, label, name), "wb") as handle:
                handle.write(data)
            hashes.append(hashlib.sha256(data).hexdigest())
        # |current - reference| is the same reversed
        return diff_histogram(*split_panels(image, self.panels)[:2]), hashes


def plan(picks: Path, root: Path, suffix: str) -> list[tuple[str, list[Target]]]:
    """Per picked source image, the pairs to write: into its class folder and/or reversed into the opposite label."""
    jobs = []
    for line, pick in read_rows(picks, MASK_TRAIN_COLUMNS):
        stem = os.path.splitext(pick["image"])[0]
        targets = []
        if pick["label"] != SKIP:
            targets.append((pick["label"], f"{stem}{PAIR_SUFFIX}", False, pick[DEPLOYED_SCORE]))
        if pick["opposite_label"]:
            targets.append((pick["opposite_label"], f"{stem}{suffix}{PAIR_SUFFIX}", True, ""))
        jobs.append((resolve(root, pick["path"], f"{picks}:{line}"), targets))
    return jobs


def run(cfg: DictConfig) -> Path:
    site = site_name(cfg)
    root = Path(cfg.paths.root_dir)
    final = site_dir(cfg) / NO_MASK_TRAIN_DIR
    bad = bad_inputs(cfg)
    with atomic_dir(final) as out:
        for label in (OBSTACLE, NO_OBSTACLE):
            (out / label).mkdir()
        jobs = plan(site_dir(cfg) / MASK_TRAIN_TABLE, root, cfg.no_mask_train.reversed_suffix)
        written = Counter((label, name) for _, targets in jobs for label, name, *_ in targets)
        duplicates = [name for (_, name), n in written.items() if n > 1]
        if duplicates:
            raise ValueError(f"two picks of {site} map to the same output name: {sorted(duplicates)[:5]}")
        unmask = Unmask(int(cfg.recording.panels), int(cfg.no_mask_train.jpeg_quality), str(out))
        folder = project_relative(final, root)  # where the pairs live once the output is in place
        rows, pairs = [], []
        for (source, targets), result in zip(
            jobs, parallel_map(unmask, jobs, workers=cfg.workers, desc=f"no_mask_train {site}")
        ):
            if isinstance(result, str):
                bad.add(source, result)
                continue
            histogram, hashes = result
            rows.extend((name, label, histogram) for label, name, *_ in targets)
            source_name = os.path.basename(source)
            pairs.extend(
                (name, f"{folder}/{label}/{name}", sha256, label, source_name, deployed)
                for (label, name, _, deployed), sha256 in zip(targets, hashes)
            )
        write_histograms(out / HISTOGRAMS_NAME, sorted(rows, key=lambda row: (row[1], row[0])))
        write_csv(out / PAIRS_TABLE, PAIRS_COLUMNS, sorted(pairs, key=lambda row: (row[3], row[0])))
        bad.write(out)
    counts = Counter(label for _, label, _ in rows)
    print(f"[no_mask_train {site}] {counts[OBSTACLE]} obstacle, {counts[NO_OBSTACLE]} no_obstacle pairs")
    if bad.items:
        print(bad.summary(f"no_mask_train {site}", len(jobs) - len(bad.items)))
    return final


main = entry_point("pipeline", run)

if __name__ == "__main__":
    main()
