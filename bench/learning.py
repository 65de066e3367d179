"""Learning benchmark: held-out AUROC over training-set size and seed, per recipe, beside the
deployed model's score and a histogram baseline on the same frames. Run: `python bench/learning.py`.

1. **Data.** A scratch project (OBSTACLES_ROOT) with this project's conf/ records two sites with
   the demo's simulator: its plant and office styles and every ground-truth setting of
   conf/simulate.yaml `common` (score, obstacle, lighting, shadow, camera) as they are; only the
   seed, the site names and the number of frames differ. The project's own stages (src,
   mask_train, no_mask_train, split, diff_metrics, balanced) build the pairs and the manifest, as
   `dvc repro` runs them; the split holds out whole bursts: `eval` (at least `--min-eval` pairs)
   and `val` are fixed for every cell.
2. **Training sets.** Per size, a nested subset of the train split drawn burst by burst in a seeded
   order, so a larger set contains every smaller one and no burst straddles train and eval.
3. **Cells.** Per recipe (a `conf/experiment/` name), size and seed: the training command
   (`python -m obstacles.commands.train experiment=<recipe>`), then its best checkpoint (picked on
   val) scores val and eval.
4. **Baselines on the same frames.** The deployed model's score (`deployed_score`, recorded with
   each frame; reversed copies have none) and gradient boosting over each pair's stored 256-bin
   difference histogram, fitted on the same training subset.
5. **Paired test.** Each cell's eval scores against the deployed score on the eval frames that have
   one: DeLong's test (obstacles.champion.delong).

Prints the table (AUROC mean +- sd over seeds, val and eval, training minutes), writes
bench/results/learning.json, learning.md's table and learning_curve.png. Recipes are chosen on
the **val** column; eval only reports.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from omegaconf import OmegaConf
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

from scratch_project import project_env, sh

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SITES = {  # site id -> (demo site whose style, camera and obstacle share it copies)
    "plant_202301_01": "plant_202209_01",
    "office_202302_01": "office_202210_02",
}
PAIRS_PER_FRAME = 0.93  # labelled pairs per recorded frame (10 % skipped, ~4 % reversed copies added)
VAL_FRACTION = 0.1


def build_data(project: Path, *, frames_per_site: int, eval_fraction: float, seed: int, log: Path) -> Path:
    """Simulate the sites and run the pipeline's stages; returns the merged manifest."""
    shutil.copytree(ROOT / "conf", project / "conf")
    simulate = OmegaConf.load(ROOT / "conf" / "simulate.yaml")
    demo_sites = simulate.sites
    simulate.sites = {}
    for site, like in SITES.items():
        simulate.sites[site] = {**OmegaConf.to_container(demo_sites[like]), "n_frames": frames_per_site}
        site_conf = OmegaConf.load(ROOT / "conf" / "site" / f"{like}.yaml")
        site_conf.name = site
        OmegaConf.save(site_conf, project / "conf" / "site" / f"{site}.yaml")
    simulate.seed = seed
    OmegaConf.save(simulate, project / "conf" / "simulate.yaml")
    OmegaConf.save(OmegaConf.create({"sites": list(SITES)}), project / "conf" / "sites.yaml")
    env = project_env(project)
    python = sys.executable
    sh([python, "-m", "obstacles.commands.simulate", "workers=0"], env, log)
    for site in SITES:
        for stage, extra in (
            ("src", []),
            ("mask_train", []),
            ("no_mask_train", []),
            ("split", [f"split.eval_fraction={eval_fraction}", f"split.val_fraction={VAL_FRACTION}"]),
            ("diff_metrics", []),
        ):
            sh([python, "-m", f"obstacles.stages.{stage}", f"site={site}", *extra], env, log)
    sh([python, "-m", "obstacles.stages.balanced"], env, log)
    return project / "datasets" / "demo_balanced" / "manifest.csv"


def sync_recipes(project: Path) -> None:
    """The scratch project's conf/ becomes this project's again but for its own sites and simulator,
    so a recipe added or edited since the data was built trains as it is now."""
    own = {"sites.yaml", "simulate.yaml", "site"}
    for item in (ROOT / "conf").iterdir():
        if item.name in own:
            continue
        target = project / "conf" / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True)
        else:
            shutil.copy2(item, target)


def with_groups(manifest: pd.DataFrame, project: Path) -> pd.DataFrame:
    """The manifest with each pair's burst group (site-qualified) from its site's split table."""
    splits = pd.concat([pd.read_csv(project / "datasets" / site / "split.csv").assign(site=site) for site in SITES])[
        ["path", "site", "group"]
    ]
    frame = manifest.merge(splits, on=["path", "site"], how="left", validate="one_to_one")
    frame["burst"] = frame["site"] + ":" + frame["group"].astype(str)
    return frame


def training_subsets(frame: pd.DataFrame, sizes: list[int], seed: int) -> dict[int, pd.DataFrame]:
    """Per size, the train rows of whole bursts taken in one seeded order until the size is reached
    (nested: a larger set holds every smaller one)."""
    train = frame[frame["split"] == "train"]
    bursts = train["burst"].unique()
    order = np.random.default_rng(seed).permutation(len(bursts))
    counts = train.groupby("burst").size()
    cumulative = np.cumsum(counts[bursts[order]].to_numpy())
    subsets = {}
    for size in sizes:
        if size > len(train):
            raise SystemExit(f"size {size} > the {len(train)} training pairs simulated: raise --frames")
        taken = set(bursts[order[: int(np.searchsorted(cumulative, size)) + 1]])
        subsets[size] = train[train["burst"].isin(taken)]
    return subsets


def write_dataset(project: Path, frame: pd.DataFrame, subset: pd.DataFrame, name: str, columns: list[str]) -> None:
    rows = pd.concat([subset, frame[frame["split"] != "train"]])[columns]
    folder = project / "datasets" / name
    folder.mkdir(parents=True, exist_ok=True)
    rows.to_csv(folder / "manifest.csv", index=False)


def histogram_features(frame: pd.DataFrame, project: Path) -> np.ndarray:
    """Per pair, the fraction of its pixels at or above each max-channel difference (256 values)."""
    tables = {}
    for site in SITES:
        table = np.load(project / "datasets" / site / "no_mask_train" / "diff_histograms.npy")
        tables.update({(site, str(image)): counts for image, counts in zip(table["image"], table["counts"])})
    counts = np.stack([tables[(site, Path(path).name)] for site, path in zip(frame["site"], frame["path"])])
    counts = counts.astype(np.float64)
    at_or_above = np.cumsum(counts[:, ::-1], axis=1)[:, ::-1]
    return at_or_above / counts.sum(axis=1, keepdims=True)


def histogram_baseline(frame: pd.DataFrame, subset: pd.DataFrame, features: np.ndarray, seed: int) -> np.ndarray:
    model = HistGradientBoostingClassifier(random_state=seed)
    index = frame.index.get_indexer(subset.index)
    model.fit(features[index], subset["is_obstacle"].to_numpy())
    return model.predict_proba(features)[:, 1]


def train_cell(project: Path, recipe: str, dataset: str, seed: int, run_dir: Path, log: Path) -> float:
    """Minutes the training command took."""
    start = time.perf_counter()
    command = [
        sys.executable,
        "-m",
        "obstacles.commands.train",
        f"experiment={recipe}",
        f"dataset.name={dataset}",
        f"seed={seed}",
        "logger=csv",
        "wandb.enabled=false",
        "callbacks.sample_grid=null",
        f"hydra.run.dir={run_dir}",
    ]
    sh(command, project_env(project), log)
    return (time.perf_counter() - start) / 60


def score_run(run_dir: Path, frame: pd.DataFrame) -> np.ndarray:
    """The best checkpoint's scores for the val and eval rows of `frame` (NaN for train rows)."""
    from obstacles.evaluation.scoring import score_rows
    from obstacles.runs.loading import load_classifier
    from obstacles.runs.lookup import find_run

    run = find_run(run_dir / "checkpoints" / "best.ckpt")
    model, config = load_classifier(run.checkpoint), run.config
    held_out = (frame["split"] != "train").to_numpy()
    predictions = score_rows(
        model,
        frame[held_out],
        panels=2,
        with_diff_mask=bool(config.data.with_diff_mask),
        panel_size=config.data.panel_size,
        batch_size=64,
        num_workers=0,
        device=torch.device("cpu"),
        progress=False,
    )
    scores = np.full(len(frame), np.nan)
    scores[held_out] = predictions["score"].to_numpy()
    return scores


def auroc(frame: pd.DataFrame, scores: np.ndarray, split: str) -> float:
    rows = (frame["split"] == split).to_numpy()
    return float(roc_auc_score(frame["is_obstacle"].to_numpy()[rows], scores[rows]))


def against_deployed(frame: pd.DataFrame, scores: np.ndarray) -> dict:
    from obstacles.champion.delong import delong_test

    rows = ((frame["split"] == "eval") & frame["deployed_score"].notna()).to_numpy()
    labels = frame["is_obstacle"].to_numpy()[rows]
    result = delong_test(frame["deployed_score"].to_numpy()[rows], scores[rows], labels)
    return {"n": int(rows.sum()), "difference": result.difference, "p_value": result.p}


def mean_sd(values: list[float]) -> str:
    if not values:
        return "-"
    sd = f" ± {np.std(values, ddof=1):.3f}" if len(values) > 1 else ""
    return f"{np.mean(values):.3f}{sd}"


def table(cells: list[dict], baselines: dict) -> str:
    lines = [
        "| recipe | train pairs | seeds | val AUROC | eval AUROC | eval AUROC, framed with a deployed score | "
        "paired AUROC difference vs deployed, DeLong p (per seed) | train min |",
        "|---|---:|---:|---:|---:|---:|---|---:|",
    ]
    frame = pd.DataFrame(cells)
    for (recipe, size), group in frame.groupby(["recipe", "size"], sort=False):
        p_values = ", ".join(f"{d:+.3f} (p {p:.2g})" for d, p in zip(group["deployed_difference"], group["deployed_p"]))
        lines.append(
            f"| {recipe} | {int(group['train_pairs'].iat[0])} | {len(group)} | {mean_sd(list(group['val']))} | "
            f"{mean_sd(list(group['eval']))} | {mean_sd(list(group['eval_paired']))} | {p_values} | "
            f"{mean_sd(list(group['minutes']))} |"
        )
    for size, values in baselines["histogram"].items():
        lines.append(
            f"| histogram boosting | {values['train_pairs']} | 1 | {values['val']:.3f} | {values['eval']:.3f} | "
            f"{values['eval_paired']:.3f} | | |"
        )
    deployed = baselines["deployed"]
    lines.append(f"| **deployed score** | | | {deployed['val']:.3f} | | {deployed['eval_paired']:.3f} | | |")
    return "\n".join(lines)


def curve_figure(cells: list[dict], baselines: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    frame = pd.DataFrame(cells)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for recipe, group in frame.groupby("recipe", sort=False):
        stats = group.groupby("train_pairs")["eval_paired"].agg(["mean", "std"]).reset_index()
        axis.errorbar(
            stats["train_pairs"], stats["mean"], yerr=stats["std"].fillna(0), marker="o", capsize=3, label=recipe
        )
    hist = baselines["histogram"]
    axis.plot(
        [v["train_pairs"] for v in hist.values()],
        [v["eval_paired"] for v in hist.values()],
        "s--",
        label="histogram boosting",
    )
    axis.axhline(baselines["deployed"]["eval_paired"], color="k", linestyle=":", label="deployed score")
    axis.set_xscale("log")
    axis.set_xlabel("training pairs")
    axis.set_ylabel(f"held-out AUROC ({baselines['deployed']['n_paired']} frames with a deployed score)")
    axis.set_title("Learning curves: mean ± sd over seeds")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipes", nargs="+", default=["field_cnn_mask", "signed_diff", "siamese"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[750, 3000])
    parser.add_argument("--seeds", nargs="+", type=int, default=[1, 2, 3])
    parser.add_argument("--min-eval", type=int, default=1000, help="held-out pairs, at least")
    parser.add_argument("--data-seed", type=int, default=20230101, help="the simulator's seed (the demo's is another)")
    parser.add_argument("--work", type=Path, default=None, help="scratch project (default: a temporary folder)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    work = args.work or Path(tempfile.mkdtemp(prefix="learning_"))
    project, log = work / "project", work / "log.txt"
    # pairs needed: the largest training set, then val and eval around it
    needed = max(args.sizes) / (1 - VAL_FRACTION) + args.min_eval * 1.15
    eval_fraction = round(args.min_eval * 1.15 / needed, 3)
    frames_per_site = int(np.ceil(needed / PAIRS_PER_FRAME / len(SITES)))
    manifest = project / "datasets" / "demo_balanced" / "manifest.csv"
    if not manifest.is_file():
        print(f"simulating {len(SITES)} sites x {frames_per_site} frames into {project} (log {log})", flush=True)
        build_data(project, frames_per_site=frames_per_site, eval_fraction=eval_fraction, seed=args.data_seed, log=log)

    from obstacles.data.dataset import read_manifest

    sync_recipes(project)
    columns = list(pd.read_csv(manifest, nrows=0).columns)
    frame = with_groups(read_manifest(manifest, project), project)
    counts = frame.groupby("split").size().to_dict()
    n_eval_paired = int(((frame["split"] == "eval") & frame["deployed_score"].notna()).sum())
    print(f"pairs per split {counts}; {n_eval_paired} eval frames have a deployed score", flush=True)
    if counts.get("eval", 0) < args.min_eval:
        raise SystemExit(f"only {counts.get('eval', 0)} eval pairs (< {args.min_eval}): raise --min-eval's margin")
    results_file = work / "cells.jsonl"
    done = {}
    if results_file.is_file():  # the work folder keeps every cell it trained: a rerun resumes, the report shows all
        for line in results_file.read_text().splitlines():
            cell = json.loads(line)
            done[(cell["recipe"], cell["size"], cell["seed"])] = cell
    sizes = sorted(set(args.sizes) | {size for _, size, _ in done})
    subsets = training_subsets(frame, sizes, args.data_seed)
    paired = ((frame["split"] == "eval") & frame["deployed_score"].notna()).to_numpy()
    is_obstacle = frame["is_obstacle"].to_numpy()
    val_with_score = ((frame["split"] == "val") & frame["deployed_score"].notna()).to_numpy()
    deployed = frame["deployed_score"].to_numpy()
    baselines = {
        "deployed": {
            "val": float(roc_auc_score(is_obstacle[val_with_score], deployed[val_with_score])),
            "eval_paired": float(roc_auc_score(is_obstacle[paired], deployed[paired])),
            "n_paired": n_eval_paired,
        },
        "histogram": {},
    }
    features = histogram_features(frame, project)
    for size, subset in subsets.items():
        scores = histogram_baseline(frame, subset, features, args.data_seed)
        baselines["histogram"][size] = {
            "train_pairs": len(subset),
            "val": auroc(frame, scores, "val"),
            "eval": auroc(frame, scores, "eval"),
            "eval_paired": float(roc_auc_score(is_obstacle[paired], scores[paired])),
        }
        write_dataset(project, frame, subset, f"bench_{size}", columns)
    print(
        f"deployed score: eval AUROC {baselines['deployed']['eval_paired']:.3f} on {n_eval_paired} frames", flush=True
    )

    for size in args.sizes:  # seeds outermost within a size: every recipe has a first figure early
        for seed in args.seeds:
            for recipe in args.recipes:
                key = (recipe, size, seed)
                if key not in done:
                    run_dir = work / "runs" / recipe / str(size) / f"seed{seed}"
                    minutes = train_cell(project, recipe, f"bench_{size}", seed, run_dir, log)
                    scores = score_run(run_dir, frame)
                    versus = against_deployed(frame, scores)
                    done[key] = {
                        "recipe": recipe,
                        "size": size,
                        "seed": seed,
                        "train_pairs": len(subsets[size]),
                        "minutes": minutes,
                        "val": auroc(frame, scores, "val"),
                        "eval": auroc(frame, scores, "eval"),
                        "eval_paired": float(roc_auc_score(is_obstacle[paired], scores[paired])),
                        "deployed_difference": versus["difference"],
                        "deployed_p": versus["p_value"],
                    }
                    with results_file.open("a") as out:
                        out.write(json.dumps(done[key]) + "\n")
                cell = done[key]
                print(
                    f"{recipe:>16} {cell['train_pairs']:>6} pairs seed {seed}: val {cell['val']:.3f} "
                    f"eval {cell['eval']:.3f} (paired {cell['eval_paired']:.3f}, vs deployed "
                    f"{cell['deployed_difference']:+.3f} p {cell['deployed_p']:.2g}) {cell['minutes']:.1f} min",
                    flush=True,
                )

    order = {recipe: index for index, recipe in enumerate(dict.fromkeys([*args.recipes, *(k[0] for k in done)]))}
    cells = sorted(done.values(), key=lambda c: (order[c["recipe"]], c["size"], c["seed"]))
    text = table(cells, baselines)
    print("\n" + text)
    args.out.mkdir(parents=True, exist_ok=True)
    summary = {
        "data": {
            "sites": SITES,
            "frames_per_site": frames_per_site,
            "simulator_seed": args.data_seed,
            "pairs_per_split": counts,
            "eval_frames_with_deployed_score": n_eval_paired,
        },
        "baselines": baselines,
        "cells": cells,
        "machine": {"cpus": os.cpu_count(), "torch": torch.__version__, "threads": torch.get_num_threads()},
    }
    (args.out / "learning.json").write_text(json.dumps(summary, indent=2) + "\n")
    (args.out / "learning_table.md").write_text(text + "\n")
    curve_figure(cells, baselines, args.out / "learning_curve.png")
    print(f"\nwrote {args.out / 'learning.json'}, learning_table.md, learning_curve.png (work folder {work})")


if __name__ == "__main__":
    main()
