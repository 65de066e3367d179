"""The comparison's tables from the runs' results: per configuration mean, sd and per-seed values,
per metric and pair of configurations the test (obstacles.comparison.stats). No file, no config."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd

from obstacles.comparison import stats
from obstacles.comparison.runs import RunResult
from obstacles.runs.key import key_items


@dataclass(frozen=True)
class Metric:
    name: str  # column prefix
    title: str  # picture and printout


# Choosing a setting is tuning: it must not look at the split that reports (DESIGN section 2.4).
SELECTION_RULE = (
    "choose a setting on val AUROC; eval AUROC and coverage are the report on the held-out "
    "split (choosing by them would flatter the number that is shipped)"
)
METRICS = (
    Metric("val_auroc", "val AUROC"),
    Metric("eval_auroc", "eval AUROC"),
    Metric("eval_coverage", "eval coverage"),
)
PAIR_COLUMNS = [
    "metric",
    "a",
    "b",
    "test",
    "n_a",
    "n_b",
    "n_shared",
    "difference",
    "ci_low",
    "ci_high",
    "confidence",
    "t",
    "df",
    "p_value",
    "p_holm",
    "verdict",
    "note",
    "config_key_a",
    "config_key_b",
]


def labels(keys: list[str]) -> dict[str, str]:
    """Each key's overrides that not every compared configuration shares (its short name)."""
    items = {key: key_items(key) for key in keys}
    common = set.intersection(*(set(v) for v in items.values())) if items else set()
    short = {key: ",".join(i for i in parts if i not in common) for key, parts in items.items()}
    return {key: short[key] or key or "(no overrides)" for key in keys}


@dataclass(frozen=True)
class Comparison:
    runs: pd.DataFrame
    configurations: pd.DataFrame
    pairs: pd.DataFrame
    summaries: dict[str, dict[str, stats.Summary]]  # config key -> metric -> summary
    labels: dict[str, str]


def compare_runs(results: list[RunResult], alpha: float, confidence: float) -> Comparison:
    """Per configuration (first-seen order) the summaries; per metric and pair the test."""
    keys = list(dict.fromkeys(r.config_key for r in results))
    names = labels(keys)
    runs = pd.DataFrame(
        [
            {
                "run": str(r.run_dir),
                "configuration": names[r.config_key],
                "config_key": r.config_key,
                "seed": r.seed,
                **{m.name: r.values.get(m.name) for m in METRICS},
            }
            for r in results
        ],
        columns=["run", "configuration", "config_key", "seed", *(m.name for m in METRICS)],
    )
    summaries, rows = {}, []
    for key in keys:
        mine = [r for r in results if r.config_key == key]
        summaries[key] = {m.name: stats.summarize({r.seed: r.values.get(m.name) for r in mine}) for m in METRICS}
        row = {
            "configuration": names[key],
            "config_key": key,
            "runs": len(mine),
            "seeds": ",".join(str(s) for s in sorted(r.seed for r in mine)),
        }
        for m in METRICS:
            s = summaries[key][m.name]
            row.update(
                {
                    f"{m.name}_n": s.n,
                    f"{m.name}_mean": s.mean,
                    f"{m.name}_sd": s.sd,
                    f"{m.name}_values": json.dumps({str(k): v for k, v in s.values.items()}),
                }
            )
        rows.append(row)
    pair_rows = []
    for m in METRICS:
        tests = []
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                values = (summaries[a][m.name].values, summaries[b][m.name].values)
                tests.append((a, b, stats.compare(*values, confidence=confidence)))
        adjusted = stats.holm([test.p_value for _, _, test in tests])
        for (a, b, test), p_holm in zip(tests, adjusted):
            pair_rows.append(
                {
                    "metric": m.name,
                    "a": names[a],
                    "b": names[b],
                    **test.to_dict(),
                    "confidence": confidence,
                    "p_holm": p_holm,
                    "verdict": stats.verdict(p_holm, alpha),
                    "config_key_a": a,
                    "config_key_b": b,
                }
            )
    pairs = pd.DataFrame(pair_rows, columns=PAIR_COLUMNS)
    return Comparison(runs, pd.DataFrame(rows), pairs, summaries, names)
