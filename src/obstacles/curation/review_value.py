"""Review order by value: which of a site's frames a person should look at first.

A reviewer's time is best spent where their label changes most. Three signals say where:

- **disagreement**: the deployed score and the current model's score far apart (one of them is
  wrong about this frame, and the pre-filled label follows the deployed one);
- **uncertainty**: the current model's score near its decision threshold;
- **label issue**: the out-of-fold label issues (`label_issues.csv`) flagged the frame's pair (or
  its reversed copy) in the merged dataset.

value = issue_weight * flagged + disagreement_weight * |deployed - model|
        + uncertainty_weight * (1 - |model - threshold| / max(threshold, 1 - threshold))

(each term in [0, weight]; the weights are in conf/review.yaml `value`). The page sorts by value,
highest first, and shows each term, so every frame says why it is where it is. Pure: scores and
issues in, per-item fields out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from obstacles.lineage.names import source_stem

VALUE_DECIMALS = 4


@dataclass(frozen=True)
class ValueWeights:
    """conf/review.yaml `value`: the weight of each signal and the model's decision threshold."""

    issue: float
    disagreement: float
    uncertainty: float
    threshold: float


def site_issues(issues: pd.DataFrame | None, site: str, reversed_suffix: str) -> dict[str, dict]:
    """frame stem -> the best-ranked label issue of this site's pairs of that frame (rank, label, path)."""
    if issues is None or issues.empty:
        return {}
    rows = issues[issues["site"] == site].sort_values("rank", ascending=False)  # the best rank written last
    return {
        source_stem(row.path, reversed_suffix): {"rank": int(row.rank), "label": row.label, "path": row.path}
        for row in rows.itertuples(index=False)
    }


def uncertainty(model: np.ndarray, threshold: float) -> np.ndarray:
    """1 at the threshold, 0 at the farther end of [0, 1]."""
    return 1.0 - np.abs(model - threshold) / max(threshold, 1.0 - threshold)


def value_fields(
    deployed: np.ndarray, model: np.ndarray, flagged_issue: list[dict | None], weights: ValueWeights
) -> list[dict]:
    """Per frame: model score, value, its three terms and the reasons in words."""
    deployed, model = np.asarray(deployed, float), np.asarray(model, float)
    terms = {
        "issue": weights.issue * np.array([issue is not None for issue in flagged_issue], float),
        "disagreement": weights.disagreement * np.abs(deployed - model),
        "uncertainty": weights.uncertainty * uncertainty(model, weights.threshold),
    }
    value = sum(terms.values())
    fields = []
    for k, issue in enumerate(flagged_issue):
        reasons = []
        if issue is not None:
            reasons.append(f"out-of-fold label issue #{issue['rank']} (given {issue['label']}: {issue['path']})")
        reasons.append(f"deployed {deployed[k]:.3f} vs current model {model[k]:.3f}")
        if min(deployed[k], model[k]) <= weights.threshold < max(deployed[k], model[k]):
            reasons.append("they disagree on the side of the threshold")
        fields.append(
            {
                "model_score": round(float(model[k]), VALUE_DECIMALS),
                "value": round(float(value[k]), VALUE_DECIMALS),
                "terms": {name: round(float(t[k]), VALUE_DECIMALS) for name, t in terms.items()},
                "why": "; ".join(reasons),
            }
        )
    return fields


def value_order(fields: list[dict], names: list[str]) -> list[int]:
    """Item indices by value, highest first (ties by name, as the file order)."""
    return sorted(range(len(fields)), key=lambda i: (-fields[i]["value"], names[i]))
