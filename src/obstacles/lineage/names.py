"""The names the data lineage is spelled by (DESIGN section 2): classes, splits, folders, files and
columns. Every stage, reader and tool imports them from here, so no stage imports another stage
and a folder, file or column is spelled once.

Selections are manifests, not copies: src, mask_train, the split and balanced write tables whose
`path` column names an image relative to the project root, with its sha256. Only no_mask_train
writes image files (it changes pixels). `python -m obstacles.commands.folder_view` lays any of them out as
the field's browsable folders, on demand.

The three splits (DESIGN section 2.4): `train` fits the model and its sample weights; `val` picks
the checkpoint and stops training early; `eval` is touched only by evaluation and the threshold
search, so the numbers the team acts on come from images that neither trained nor selected the model.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

import numpy as np

# --- the two classes, accepted in every form the team writes them ---------------------------------
OBSTACLE = "obstacle"
NO_OBSTACLE = "no_obstacle"
CLASSES = (NO_OBSTACLE, OBSTACLE)  # index == target value

_TRUE = {"1", "true", OBSTACLE}
_FALSE = {"0", "false", NO_OBSTACLE}


def to_is_obstacle(labels) -> np.ndarray:
    """Labels as 1/True/"obstacle" or 0/False/"no_obstacle" -> bool array; anything else is an error."""
    values = np.asarray(labels, dtype=object).ravel()
    out = np.empty(values.shape, dtype=bool)
    for i, value in enumerate(values):
        key = str(value).strip().lower()
        if isinstance(value, (bool, np.bool_)):
            out[i] = bool(value)
        elif key in _TRUE:
            out[i] = True
        elif key in _FALSE:
            out[i] = False
        else:
            raise ValueError(
                f"unknown label {value!r} at position {i}: expected 1/True/{OBSTACLE!r} or 0/False/{NO_OBSTACLE!r}"
            )
    return out


def label_name(is_obstacle: bool) -> str:
    return OBSTACLE if is_obstacle else NO_OBSTACLE


# --- the three splits ------------------------------------------------------------------------------
TRAIN = "train"
VAL = "val"
EVAL = "eval"
SPLITS = (TRAIN, VAL, EVAL)


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
PAIR_CHANNELS = 6  # a pair as the model reads it: reference RGB + current RGB

# --- the merged dataset's field layout (a folder view) --------------------------------------------
SITES_VIEW_DIR = "sites"
SITE_SEPARATOR = "__"  # merged file names are <site>__<image>: two sites can never collide


def source_stem(path: str, reversed_suffix: str) -> str:
    """The recording frame a merged-dataset pair comes from: its file stem, without the reversed
    copy's suffix (`no_mask_train.reversed_suffix`)."""
    return PurePosixPath(path).stem.removesuffix(reversed_suffix)
