"""Predictions files (`path,site,label,score`, DESIGN section 4), read with every problem named by
file and line: a bad row must be found in an editor, not guessed from a pandas traceback."""

from __future__ import annotations

import io
import posixpath
from pathlib import Path

import numpy as np
import pandas as pd

from obstacles.io.tables import TableError, csv_rows, data_line, read_utf8
from obstacles.lineage.names import NO_OBSTACLE, OBSTACLE, to_is_obstacle

PREDICTION_COLUMNS = ("path", "site", "label", "score")
SCORE_RANGE = (0.0, 1.0)  # a probability: the classifier's sigmoid output
# a path spelled differently but naming the same file (`./a.jpg`, `a//b.jpg`, `a/../a.jpg`, `a\\b.jpg`)
UNNORMALISED_PATH = r"//|\\|(?:^|/)\.\.?(?:/|$)"
REPEAT_LINES_SHOWN = 5  # the first repeat's lines named in the error (the count says the rest)


def read_predictions(path: str | Path) -> pd.DataFrame:
    """The predictions table, scores as float64 in [0, 1] and labels as written (all validated).

    Empty files, missing columns, a second header line, scores that are not numbers or fall
    outside [0, 1], unknown labels, and a frame listed twice are each a TableError naming the file
    and line. Every figure computed from the table (the thresholds' counts and their binomial bounds,
    the champion's paired tests) takes one row as one independent frame: a file concatenated ten
    times would "certify" over ten times the frames it holds, so a repeated path is refused, not
    dropped (which copy is the right one is the user's call).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"predictions file not found: {path}")
    text = read_utf8(path)
    expected = ",".join(PREDICTION_COLUMNS)
    if not text.strip():
        raise TableError(f"{path}:1: empty file; expected the header {expected} and one row per image")
    table = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in PREDICTION_COLUMNS if c not in table.columns]
    if missing:
        raise TableError(
            f"{path}:1: missing column(s) {missing}; expected {list(PREDICTION_COLUMNS)}, found {list(table.columns)}"
        )
    if table.empty:
        raise TableError(f"{path}:2: no predictions below the header")
    where = lambda record: f"{path}:{data_line(text, int(record))}"  # noqa: E731 (only on the error path)
    _check_scores(table, where)
    _check_labels(table["label"], where)
    _check_distinct_frames(table["path"], path, text)
    table["score"] = table["score"].astype(np.float64)
    return table


def _check_scores(table: pd.DataFrame, where) -> None:
    raw = table["score"]
    header_again = np.flatnonzero((raw.str.strip() == "score").to_numpy())
    if header_again.size:
        raise TableError(f"{where(header_again[0])}: a second header line (two files joined?); delete it")
    scores = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64)
    not_number = np.flatnonzero(np.isnan(scores) & ~raw.str.strip().str.lower().isin(["nan"]).to_numpy())
    if not_number.size:
        record = not_number[0]
        raise TableError(f"{where(record)}: score {raw.iat[record]!r} is not a number")
    low, high = SCORE_RANGE
    outside = np.flatnonzero(~((scores >= low) & (scores <= high)))  # NaN and inf too
    if outside.size:
        record = outside[0]
        raise TableError(
            f"{where(record)}: score {raw.iat[record]} is not a probability in [{low:g}, {high:g}] "
            f"({outside.size} such row(s); were logits written instead of sigmoid outputs?)"
        )


def _check_labels(labels: pd.Series, where) -> None:
    codes, uniques = pd.factorize(labels.to_numpy(dtype=object), use_na_sentinel=False)
    for code, value in enumerate(uniques):
        try:
            to_is_obstacle([value])
        except ValueError:
            record = int(np.flatnonzero(codes == code)[0])
            raise TableError(
                f"{where(record)}: unknown label {value!r}; expected {OBSTACLE} or {NO_OBSTACLE} (or 1/0, true/false)"
            ) from None


def frame_keys(paths: pd.Series) -> pd.Series:
    """One key per file: the path normalised (``./a.jpg``, ``a//b.jpg``, ``a\\b.jpg`` are the same
    frame as ``a.jpg``, ``a/b.jpg``); only the rows that need it are rewritten (10^7 rows stay fast)."""
    keys = paths.astype(str)
    odd = keys.str.contains(UNNORMALISED_PATH, regex=True).to_numpy()
    if odd.any():
        keys = keys.copy()
        keys[odd] = [posixpath.normpath(p.replace("\\", "/")) for p in keys[odd]]
    return keys


def _check_distinct_frames(paths: pd.Series, path: Path, text: str) -> None:
    keys = frame_keys(paths)
    repeated = keys.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    first = int(np.flatnonzero(keys.duplicated(keep="first").to_numpy())[0])
    records = np.flatnonzero((keys == keys.iat[first]).to_numpy())
    rows = csv_rows(text)
    lines = [rows[int(r) + 1][0] for r in records]
    shown = ", ".join(str(line) for line in lines[:REPEAT_LINES_SHOWN]) + (
        ", ..." if len(lines) > REPEAT_LINES_SHOWN else ""
    )
    extra = int(keys.duplicated(keep="first").sum())
    raise TableError(
        f"{path}:{lines[1]}: frame {paths.iat[int(records[0])]!r} is listed {len(lines)} times (lines {shown}); "
        f"{extra} repeated row(s) in all, {keys.nunique()} distinct frames in {len(keys)} rows. Every count "
        "and bound takes one row as one frame, so repeats would overstate what the file shows: "
        "keep one row per frame (two predictions files joined?)"
    )
