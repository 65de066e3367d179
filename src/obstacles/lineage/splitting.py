"""The split math (DESIGN 2.4): burst groups from capture times, a seeded stratified group hold-out,
and the three-way assignment. Pure functions over arrays, so the split stage, the K-fold curation
and notebooks share one rule.

`eval` (about `eval_fraction` of every class) is held out first, then `val` (about `val_fraction`
of what is left) from the rest; train keeps the remainder. Frames of one burst (captured within
`gap_s` of each other) and an image's reversed copy form one group, so near-identical frames
never sit on both sides of a split.
"""

from __future__ import annotations

import numpy as np

from obstacles.io.recording import capture_time
from obstacles.lineage.names import CLASSES, EVAL, TRAIN, VAL

VAL_SEED_STREAM = 1  # val is drawn from its own seeded stream, so eval stays what `seed` alone gives


def burst_groups(stems: list[str], gap_s: float, reversed_suffix: str) -> np.ndarray:
    """Group id per stem: consecutive capture times closer than gap_s share a group.

    A stem without a capture time is a group of its own (it cannot be placed in time).
    """
    originals = [s[: -len(reversed_suffix)] if s.endswith(reversed_suffix) else s for s in stems]
    times = {stem: capture_time(stem) for stem in set(originals)}
    timed = sorted((stem for stem, t in times.items() if t is not None), key=lambda stem: (times[stem], stem))
    group_of, group, previous = {}, -1, None
    for stem in timed:
        if previous is None or (times[stem] - previous).total_seconds() > gap_s:
            group += 1
        group_of[stem], previous = group, times[stem]
    for stem in sorted(stem for stem, t in times.items() if t is None):
        group += 1
        group_of[stem] = group
    return np.array([group_of[s] for s in originals], dtype=np.int64)


def hold_out(labels: np.ndarray, groups: np.ndarray, fraction: float, seed) -> np.ndarray:
    """Boolean mask of held-out samples: whole groups, about `fraction` of every class.

    One seeded greedy pass (a stratified group hold-out): groups, in a seeded random order, are
    held out whenever that brings the held-out count of every class closer to its share. A class
    the pass left out then gets its smallest group, as long as the rest keeps some of that class.
    """
    group_ids, group_of = np.unique(groups, return_inverse=True)
    if len(group_ids) < 2:
        raise ValueError(f"only {len(group_ids)} capture group(s): cannot hold out a split by group")
    classes, class_of = np.unique(labels, return_inverse=True)
    counts = np.zeros((len(group_ids), len(classes)), dtype=np.int64)
    np.add.at(counts, (group_of, class_of), 1)
    totals = counts.sum(axis=0)
    target = fraction * totals

    def distance(held: np.ndarray) -> float:
        return float(np.sum(((held - target) / totals) ** 2))

    order = np.random.default_rng(seed).permutation(len(group_ids))
    held_out = np.zeros(len(group_ids), dtype=bool)
    held = np.zeros(len(classes), dtype=np.int64)
    for g in order:
        if distance(held + counts[g]) < distance(held):
            held_out[g], held = True, held + counts[g]
    for c in np.flatnonzero(held == 0):
        options = [g for g in order if counts[g, c] and counts[g, c] < totals[c]]
        if options:
            g = min(options, key=lambda g: counts[g].sum())  # first of the smallest, in seeded order
            held_out[g], held = True, held + counts[g]
    return held_out[group_of]


def assign_splits(
    labels: np.ndarray, groups: np.ndarray, eval_fraction: float, val_fraction: float, seed: int
) -> np.ndarray:
    """The split name of every sample: eval held out first, then val from the rest, train the remainder."""
    if not 0.0 < eval_fraction < 1.0:
        raise ValueError(f"split.eval_fraction must be in (0, 1), got {eval_fraction}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"split.val_fraction must be in [0, 1) (0: no val split), got {val_fraction}")
    names = np.full(len(labels), TRAIN, dtype=object)
    names[hold_out(labels, groups, eval_fraction, seed)] = EVAL
    if val_fraction > 0:
        rest = np.flatnonzero(names == TRAIN)
        names[rest[hold_out(labels[rest], groups[rest], val_fraction, (seed, VAL_SEED_STREAM))]] = VAL
    return names


def check_both_classes(site: str, labels: np.ndarray, groups: np.ndarray, names: np.ndarray, splits) -> None:
    """Every split a site fills must hold both classes, or the site cannot be trained and judged on."""
    for split in splits:
        for value, label in enumerate(CLASSES):
            if not np.any((names == split) & (labels == value)):
                n_groups = len(np.unique(groups[labels == value]))
                raise ValueError(
                    f"site {site}: split {split!r} gets no {label} image: its {int(np.sum(labels == value))} "
                    f"{label} image(s) sit in {n_groups} capture group(s), too few to fill {', '.join(splits)}; "
                    "label more of them (labels/<site>.csv), or lower split.eval_fraction / split.val_fraction"
                )
