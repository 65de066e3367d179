"""The triage rule (DESIGN 2.1): the deployed model's score puts each recorded frame in a class and
an equal-width score band, and pre-fills a reviewer's label."""

from __future__ import annotations

import math
from dataclasses import dataclass

from obstacles.lineage.names import NO_OBSTACLE, OBSTACLE, SKIP


@dataclass(frozen=True)
class TriageClass:
    folder: str  # e.g. classified_obstacle
    band_prefix: str  # e.g. obs
    low: float
    high: float
    label: str  # the deployed model's opinion: obstacle, no_obstacle, or "" (not decided)


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


@dataclass(frozen=True)
class TriageCutoffs:
    """The triage's two score cut-offs (conf/pipeline.yaml `src`): the classes they make, and the
    label a reviewer starts from."""

    obstacle_above: float
    no_obstacle_at_most: float

    def classes(self) -> tuple[TriageClass, ...]:
        return (
            TriageClass("classified_no_obstacle", "no_obs", 0.0, self.no_obstacle_at_most, NO_OBSTACLE),
            TriageClass("classified_not_decided", "not_decided", self.no_obstacle_at_most, self.obstacle_above, ""),
            TriageClass("classified_obstacle", "obs", self.obstacle_above, 1.0, OBSTACLE),
        )

    def prefill_label(self, score: float) -> str:
        """The deployed model's opinion (its triage class), skip when undecided."""
        return classify(score, self.classes()).label or SKIP
