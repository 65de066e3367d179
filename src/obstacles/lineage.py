"""The names the data lineage shares (DESIGN section 2): every stage, reader and tool imports them
from here, so no stage imports another stage and a folder, file or column is spelled once.

Selections are manifests, not copies: src, mask_train, the split and balanced write tables whose
`path` column names an image relative to the project root, with its sha256. Only no_mask_train
writes image files (it changes pixels). `python -m obstacles.commands.folder_view` lays any of them out as
the field's browsable folders, on demand.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from obstacles.labels import CLASSES, NO_OBSTACLE, OBSTACLE
from obstacles.splits import EVAL, SPLITS, TRAIN, VAL

__all__ = [
    "CLASSES",
    "EVAL",
    "NO_OBSTACLE",
    "OBSTACLE",
    "SPLITS",
    "TRAIN",
    "VAL",
]

# --- a site id: <site>_<yyyymm>_<seq>, lower case ---------------------------------------------
# ASCII digits only ([0-9], not \d: `x_٢٠٢٦١١_٠١` would pass) and matched whole with
# `SITE_ID.fullmatch` (`$` also matches before a trailing newline)
SITE_ID = re.compile(r"[a-z0-9][a-z0-9-]*(?:_[a-z0-9-]+)*_[0-9]{6}_[0-9]{2,}")

# --- per-site outputs, under datasets/<site>/ (each the output of the stage of the same name) ---
SRC_DIR = "src"  # index.csv + bad_inputs.csv: every recorded frame, its score, class and band
INDEX_NAME = "index.csv"
BAD_INPUTS_NAME = "bad_inputs.csv"
MASK_TRAIN_TABLE = "mask_train.csv"  # the reviewer's picks
NO_MASK_TRAIN_DIR = "no_mask_train"  # <label>/<stem>[_reversed].jpg: the only image output
PAIRS_TABLE = "pairs.csv"  # inside no_mask_train/: one row per written pair
HISTOGRAMS_NAME = "diff_histograms.npy"  # inside no_mask_train/
SPLIT_TABLE = "split.csv"
DIFF_TABLE = "diff_metrics.csv"
# --- the merged dataset, datasets/<dataset.name>/ -----------------------------------------------
MANIFEST_NAME = "manifest.csv"

# --- manifest columns -----------------------------------------------------------------------------
# `path` is relative to the project root; `sha256` is the file's content hash.
# `deployed_score`: the deployed model's score of the pair's source frame (the recording's `score`,
# DESIGN 5b), so a new model is compared with the one it would replace on the same frames. Empty for
# a reversed copy: the deployed model never saw that pair.
DEPLOYED_SCORE = "deployed_score"
INDEX_COLUMNS = ("image", "path", "sha256", "score", "class", "band")
MASK_TRAIN_COLUMNS = ("image", "path", "sha256", "label", "opposite_label", DEPLOYED_SCORE)
PAIRS_COLUMNS = ("image", "path", "sha256", "label", "source", DEPLOYED_SCORE)
SPLIT_COLUMNS = ("image", "path", "sha256", "label", "group", "split", DEPLOYED_SCORE)
DIFF_COLUMNS = ("image", "label", "diff_metric", "pixel_threshold")
# What every reader of the merged manifest needs (training, evaluation, views, hand-made manifests)...
MANIFEST_COLUMNS = ("path", "site", "split", "label", "sha256", "diff_metric", "pixel_threshold")
# ...and what `balanced` writes: those plus the deployed score, which only the champion comparison
# reads, so a manifest written before it still trains and evaluates.
MANIFEST_WRITTEN_COLUMNS = (*MANIFEST_COLUMNS, DEPLOYED_SCORE)

# --- the reviewer's label file, labels/<site>.csv -------------------------------------------------
LABEL_HEADER = ("image", "label", "opposite_label")
SKIP = "skip"
REVERSE = "reverse"  # opposite_label meaning "the configured default class"
OPPOSITE = "opposite"  # the field's folder of picks whose reversed version is labelled
PAIR_SUFFIX = ".jpg"

# --- the merged dataset's field layout (a folder view) --------------------------------------------
SITES_VIEW_DIR = "sites"
SITE_SEPARATOR = "__"  # merged file names are <site>__<image>: two sites can never collide


# --- the triage rule (DESIGN 2.1) ------------------------------------------------------------------
@dataclass(frozen=True)
class TriageClass:
    folder: str  # e.g. classified_obstacle
    band_prefix: str  # e.g. obs
    low: float
    high: float
    label: str  # the deployed model's opinion: obstacle, no_obstacle, or "" (not decided)


def triage_classes(obstacle_above: float, no_obstacle_at_most: float) -> tuple[TriageClass, ...]:
    return (
        TriageClass("classified_no_obstacle", "no_obs", 0.0, no_obstacle_at_most, NO_OBSTACLE),
        TriageClass("classified_not_decided", "not_decided", no_obstacle_at_most, obstacle_above, ""),
        TriageClass("classified_obstacle", "obs", obstacle_above, 1.0, OBSTACLE),
    )


def classify(score: float, classes: tuple[TriageClass, ...]) -> TriageClass:
    """no_obstacle: score <= low cut; obstacle: score > high cut; the rest is not decided."""
    no_obstacle, not_decided, obstacle = classes
    if score <= no_obstacle.high:
        return no_obstacle
    return obstacle if score > obstacle.low else not_decided


def band_names(cls: TriageClass, nranges: int) -> list[str]:
    width = (cls.high - cls.low) / nranges
    lows = [cls.low + index * width for index in range(nranges)]
    return [f"{cls.band_prefix}_between_{low:.2f}_{low + width:.2f}" for low in lows]


def band_name(score: float, cls: TriageClass, nranges: int) -> str:
    """Equal-width band of the class's score range holding this score, two decimals."""
    width = (cls.high - cls.low) / nranges
    return band_names(cls, nranges)[min(max(math.ceil((score - cls.low) / width) - 1, 0), nranges - 1)]


def prefill_label(score: float, obstacle_above: float, no_obstacle_at_most: float) -> str:
    """A reviewer's starting label: the deployed model's opinion (its triage class), skip when undecided."""
    return classify(score, triage_classes(obstacle_above, no_obstacle_at_most)).label or SKIP


@dataclass(frozen=True)
class TriageCutoffs:
    """The triage's two score cut-offs (conf/pipeline.yaml `src`), for the tools that pre-fill labels."""

    obstacle_above: float
    no_obstacle_at_most: float

    def prefill_label(self, score: float) -> str:
        return prefill_label(score, self.obstacle_above, self.no_obstacle_at_most)
