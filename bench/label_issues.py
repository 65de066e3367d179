"""Planted-flip benchmark of the out-of-fold label issues against today's in-sample audit ranking.
Run: `nice -n 15 python bench/label_issues.py [--work DIR] [--noise 0.05] [--folds 5] [--seed S]`.

1. **Data.** A scratch project (OBSTACLES_ROOT) with this project's conf/ re-simulates the demo
   sites with the demo's seed and `review.label_noise` set (the simulator's reviewer then flips
   about that share of labels). Every other draw is the demo's, so the flipped frames are exactly
   those whose label differs from this checkout's `labels/<site>.csv` (label_noise 0); the skip
   and reversal columns are checked to be equal. With `--seed` (a development set, where the
   rule's settings may be looked at), the same seed is simulated twice, without and with noise. The pipeline's own stages build the pairs, the
   split and the merged manifest as `dvc repro` does.
2. **Planted errors.** Training pairs (not reversed copies: a reversal is only picked for a frame
   labelled obstacle, and the reversed copy of a truly empty scene is correctly no_obstacle) whose
   frame's label was flipped; k = their number.
3. **Today's ranking.** The demo recipe trains once on the noisy manifest; the audit's in-sample
   loss (`surprising.csv`, every image listed) ranks the training pairs.
4. **Out of fold.** `python -m obstacles.commands.label_issues` (K folds, the same recipe; its
   ranked score averages three opinions that never saw the labels: the fold models, the deployed
   score and each pair's look-alikes, `opinions`).
5. **Each opinion alone.** The same rule on the same scores with one opinion's weight left on
   (and the fold models and deployed score together, the rule before look-alikes), so the note
   says what each opinion brings.
6. **Figures.** Precision and recall of each ranking's top k, the flagged list's size and
   precision, and the K-fold wall time: bench/results/label_issues.json (label_issues.md: the note).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf
from scipy.stats import binomtest

from obstacles.curation.confident import precision_recall_at_k
from obstacles.curation.label_issues import rank_table
from scratch_project import project_env, sh

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
STAGES = ("src", "mask_train", "no_mask_train", "split", "diff_metrics")
REVERSED_SUFFIX = "_reversed"
CONFIDENCE = 0.95  # of the precision intervals
VARIANTS = {  # the same rule with some opinions' weights set to 0
    "fold_models_alone": {"out_of_fold": 1.0, "deployed": 0.0, "look_alikes": 0.0},
    "deployed_score_alone": {"out_of_fold": 0.0, "deployed": 1.0, "look_alikes": 0.0},
    "look_alikes_alone": {"out_of_fold": 0.0, "deployed": 0.0, "look_alikes": 1.0},
    "fold_models_and_deployed": {"out_of_fold": 1.0, "deployed": 1.0, "look_alikes": 0.0},
}


def simulate(project: Path, seed: int | None, noise: float, log: Path) -> None:
    """The demo sites simulated into `project` with `review.label_noise` = noise (and another seed)."""
    config = OmegaConf.load(ROOT / "conf" / "simulate.yaml")
    config.common.review.label_noise = noise
    if seed is not None:
        config.seed = seed
    OmegaConf.save(config, project / "conf" / "simulate.yaml")
    sh([sys.executable, "-m", "obstacles.commands.simulate", "workers=0", "overwrite=true"], project_env(project), log)


def build_data(project: Path, seed: int | None, noise: float, log: Path) -> tuple[list[str], Path]:
    """The demo sites re-simulated with label noise, through the pipeline's stages; returns the sites
    and the folder of their clean label files (this checkout's labels/ for the demo's seed; for
    another seed, the same seed's simulation without noise, kept in `clean_labels/`)."""
    shutil.copytree(ROOT / "conf", project / "conf", dirs_exist_ok=True)
    sites = list(OmegaConf.load(ROOT / "conf" / "sites.yaml").sites)
    env, python = project_env(project), sys.executable
    clean = ROOT / "labels" if seed is None else project / "clean_labels"
    if not (project / "datasets" / "demo_balanced" / "manifest.csv").is_file():
        if seed is not None:
            simulate(project, seed, 0.0, log)
            shutil.copytree(project / "labels", clean, dirs_exist_ok=True)
        simulate(project, seed, noise, log)
        for site in sites:
            for stage in STAGES:
                sh([python, "-m", f"obstacles.stages.{stage}", f"site={site}"], env, log)
        sh([python, "-m", "obstacles.stages.balanced"], env, log)
    return sites, clean


def flipped_frames(project: Path, sites: list[str], clean_labels: Path) -> set[tuple[str, str]]:
    """(site, image stem) of every frame whose noisy label differs from the clean one."""
    flipped = set()
    for site in sites:
        clean = pd.read_csv(clean_labels / f"{site}.csv", dtype=str).fillna("")
        noisy = pd.read_csv(project / "labels" / f"{site}.csv", dtype=str).fillna("")
        assert clean["image"].tolist() == noisy["image"].tolist(), f"{site}: other frames than the demo's"
        both_skip = (clean["label"] == "skip") == (noisy["label"] == "skip")
        assert both_skip.all(), f"{site}: the noisy simulation drew other skips: not the demo's draws"
        changed = clean["label"] != noisy["label"]
        flipped |= {(site, Path(image).stem) for image in noisy.loc[changed, "image"]}
    return flipped


def planted(frame: pd.DataFrame, flipped: set[tuple[str, str]]) -> np.ndarray:
    stems = [Path(p).stem for p in frame["path"]]
    return np.array([(site, stem) in flipped for site, stem in zip(frame["site"], stems)])


def figures(truth: np.ndarray, k: int) -> dict:
    """Precision and recall of the top k, with the precision's 95% Wilson interval over those k."""
    precision, recall = precision_recall_at_k(truth, k)
    interval = binomtest(int(truth[:k].sum()), k).proportion_ci(CONFIDENCE, method="wilson")
    return {
        "precision_at_k": round(precision, 3),
        "recall_at_k": round(recall, 3),
        "hits": int(truth[:k].sum()),
        "precision_ci95": [round(interval.low, 3), round(interval.high, 3)],
    }


def paired_on_flips(found_a: set[str], found_b: set[str]) -> dict:
    """Two rankings' top k, paired on the same planted flips: the flips only one of them found,
    and the exact McNemar p-value (a two-sided binomial test on those discordant flips)."""
    only_a, only_b = len(found_a - found_b), len(found_b - found_a)
    p = binomtest(only_a, only_a + only_b).pvalue if only_a + only_b else 1.0
    return {"only_label_issues": only_a, "only_in_sample": only_b, "mcnemar_p": round(float(p), 4)}


def found_flips(ranked: pd.DataFrame, truth: np.ndarray, k: int) -> set[str]:
    return set(ranked["path"].to_numpy()[:k][truth[:k]])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch project (default: a temporary folder)")
    parser.add_argument("--noise", type=float, default=0.05, help="review.label_noise of the simulation")
    parser.add_argument(
        "--seed",
        type=int,
        default=None,
        help="another simulator seed (a development set for the rule; default: the demo's)",
    )
    parser.add_argument("--results", type=Path, default=RESULTS / "label_issues.json", help="where the figures go")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--recipe", nargs="*", default=["experiment=demo"], help="overrides of conf/train.yaml")
    args = parser.parse_args()
    project = args.work or Path(tempfile.mkdtemp(prefix="label-issues-bench-"))
    project.mkdir(parents=True, exist_ok=True)
    log = project / "bench.log"
    env, python = project_env(project), sys.executable
    sites, clean_labels = build_data(project, args.seed, args.noise, log)
    flipped = flipped_frames(project, sites, clean_labels)

    if not list((project / "experiments").glob("001.*/checkpoints/best.ckpt")):
        sh([python, "-m", "obstacles.commands.train", *args.recipe], env, log)
    sh([python, "-m", "obstacles.commands.audit", "top_surprising=1000000", "wandb.enabled=false"], env, log)
    audit = pd.read_csv(project / "reports" / "audit" / "demo_balanced" / "surprising.csv")
    in_sample = audit[audit["split"] == "train"].sort_values("loss", ascending=False, kind="stable")

    recipe = "[" + ",".join(f"'{o}'" for o in args.recipe) + "]"
    override = [f"folds={args.folds}", f"train_overrides={recipe}", "wandb.enabled=false"]
    seconds = sh([python, "-m", "obstacles.commands.label_issues", *override], env, log)
    out = project / "reports" / "label_issues" / "demo_balanced"
    oof = pd.read_csv(out / "oof_scores.csv").sort_values("rank")
    summary = json.loads((out / "summary.json").read_text())

    truth_oof, truth_in = planted(oof, flipped), planted(in_sample, flipped)
    k = int(truth_oof.sum())
    assert k == int(truth_in.sum()), "both rankings cover the same training pairs"
    flagged = oof["flagged"].to_numpy()
    alone = {}
    for name, weights in VARIANTS.items():
        ranked, _ = rank_table(
            oof,
            oof["fold"].to_numpy(),
            oof["oof_score"].to_numpy(),
            oof["look_alike_score"].to_numpy(),
            weights=weights,
            reversed_suffix=REVERSED_SUFFIX,
        )
        alone[name] = figures(planted(ranked, flipped), k)
    result = {
        "seed": args.seed if args.seed is not None else "demo",
        "noise": args.noise,
        "folds": args.folds,
        "recipe": args.recipe,
        "train_pairs": len(oof),
        "flipped_frames": len(flipped),
        "k_planted_train_pairs": k,
        "opinions": summary["opinions"],
        "look_alike_k": summary["look_alike_k"],
        "out_of_fold": figures(truth_oof, k),
        **alone,
        "in_sample_audit": figures(truth_in, k),
        "label_issues_vs_in_sample": paired_on_flips(
            found_flips(oof, truth_oof, k), found_flips(in_sample, truth_in, k)
        ),
        "flagged": int(flagged.sum()),
        "flagged_precision": round(float(truth_oof[flagged].mean()), 3) if flagged.any() else None,
        "flagged_recall": round(float(truth_oof[flagged].sum() / k), 3) if k else None,
        "kfold_seconds": round(seconds),
        "kfold_trained": summary["trained"],
        "cpu_cores": os.cpu_count(),
    }
    previous = args.results
    if summary["trained"] == 0 and previous.is_file():  # fold runs reused: keep the time they took to train
        before = json.loads(previous.read_text())
        if before.get("folds") == args.folds and before.get("kfold_trained"):
            result["kfold_seconds"], result["kfold_trained"] = before["kfold_seconds"], before["kfold_trained"]
    previous.parent.mkdir(parents=True, exist_ok=True)
    previous.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    print(markdown(result))


def markdown(result: dict) -> str:
    """The figures as bench/results/label_issues.md's table has them (printed; the note is written by hand)."""
    k = result["k_planted_train_pairs"]
    rows = [
        (f"label_issues (opinions {result['opinions']}, k = {result['look_alike_k']})", result["out_of_fold"]),
        *((f"the same rule, {name.replace('_', ' ')}", result[name]) for name in VARIANTS),
        ("in-sample loss (the audit, surprising.csv)", result["in_sample_audit"]),
    ]
    lines = [
        f"| ranking of the {result['train_pairs']} training pairs | precision at k={k} (95% interval) "
        f"| recall at k={k} |",
        "|---|---|---|",
        *(
            f"| {name} | {r['precision_at_k']:.2f} ({r['hits']}/{k}; {r['precision_ci95'][0]:.2f}-"
            f"{r['precision_ci95'][1]:.2f}) | {r['recall_at_k']:.2f} |"
            for name, r in rows
        ),
    ]
    paired = result["label_issues_vs_in_sample"]
    lines.append(
        f"\nPaired on the {k} flips: {paired['only_label_issues']} found only by label_issues, "
        f"{paired['only_in_sample']} only by the in-sample loss (exact McNemar p = {paired['mcnemar_p']})."
    )
    lines.append(
        f"Flagged by confident learning: {result['flagged']} pairs, precision {result['flagged_precision']}, "
        f"recall {result['flagged_recall']}. K-fold run: {result['kfold_seconds']} s for {result['folds']} folds "
        f"({result['kfold_trained']} trained in that call) on {result['cpu_cores']} CPU cores.\n"
    )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
