"""Evaluation scoring throughput: the real scoring path against the model alone. Run: `python bench/evaluate.py`.

Writes a synthetic eval split (default 128 JPEG pairs of 200x200 panels, the field's size) with
the test fixture builder, builds the default model (conf/train.yaml's, untrained: speed does not
depend on the weights), and prints images/s for each batch size of
1. the model alone on in-memory tensors (pre-decoded: the floor no loader can beat),
2. `obstacles.evaluation.scoring.score_loader` over the JPEG dataset with 0 and 2 loader workers
   (decode + collate + model: what `python -m obstacles.commands.evaluate` runs),
3. the loader alone (decode + collate, no model), to show which side limits.
Every measurement is one full pass, loader start-up included, after one untimed warm-up batch.
About a minute on 2 CPU cores with the defaults.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch
from hydra.utils import instantiate
from torch.utils.data import DataLoader

from obstacles.data.dataset import PairDataset, read_manifest
from obstacles.evaluation.scoring import score_loader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helpers: tests.helpers
from tests.helpers.training import train_cfg, write_pair_dataset  # noqa: E402

DATASET = "bench"


def eval_dataset(root: Path) -> PairDataset:
    rows = read_manifest(root / "datasets" / DATASET / "manifest.csv", root)
    return PairDataset(rows[rows["split"] == "eval"])


def loader(dataset: PairDataset, batch_size: int, workers: int) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, num_workers=workers, shuffle=False)


def warm_up(model, batch_size: int, dataset: PairDataset) -> None:
    """One untimed batch: first-call allocations and kernel choices are not throughput."""
    images = torch.stack([dataset[i]["image"] for i in range(min(batch_size, len(dataset)))])
    with torch.inference_mode():
        model(images)


def model_alone(model, images: torch.Tensor, batch_size: int) -> float:
    start = time.perf_counter()
    with torch.inference_mode():
        for first in range(0, len(images), batch_size):
            torch.sigmoid(model(images[first : first + batch_size]))
    return len(images) / (time.perf_counter() - start)


def scoring(model, dataset: PairDataset, batch_size: int, workers: int) -> float:
    start = time.perf_counter()
    scores = score_loader(model, loader(dataset, batch_size, workers), torch.device("cpu"))
    assert len(scores) == len(dataset)
    return len(dataset) / (time.perf_counter() - start)


def loader_alone(dataset: PairDataset, batch_size: int, workers: int) -> float:
    start = time.perf_counter()
    count = sum(len(batch["image"]) for batch in loader(dataset, batch_size, workers))
    return count / (time.perf_counter() - start)


def measure(model, dataset: PairDataset, images: torch.Tensor, batch_sizes: list[int], workers: list[int]) -> list:
    rows = []
    for batch_size in batch_sizes:
        warm_up(model, batch_size, dataset)
        memory = model_alone(model, images, batch_size)
        timings = [("model alone (in memory)", None, memory)]
        timings += [("evaluate scoring (jpeg)", n, scoring(model, dataset, batch_size, n)) for n in workers]
        timings += [("loader alone (decode)", n, loader_alone(dataset, batch_size, n)) for n in workers]
        rows += [
            {"source": source, "batch": batch_size, "workers": n, "images_per_s": speed, "vs_model": speed / memory}
            for source, n, speed in timings
        ]
    return rows


def print_table(rows: list[dict], backbone: str) -> None:
    print(f"\n{backbone}, fp32, CPU, images/s (higher is better)")
    header = f"{'source':>24} {'batch':>5} {'workers':>7} {'images/s':>9} {'vs model alone':>14}"
    print(header)
    print("-" * len(header))
    for row in rows:
        workers = "-" if row["workers"] is None else row["workers"]
        speed, ratio = row["images_per_s"], row["vs_model"]
        print(f"{row['source']:>24} {row['batch']:>5} {workers:>7} {speed:>9.1f} {ratio:>14.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=128, help="synthetic eval pairs to write")
    parser.add_argument("--panel", type=int, default=200, help="panel size in pixels")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 64])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.2f}"
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_pair_dataset(root, DATASET, n_pairs=args.pairs, panel=args.panel, eval_every=1)  # every pair in eval
        cfg = train_cfg(root, "logger=none", dataset=DATASET)
        model = instantiate(cfg.model).eval()
        dataset = eval_dataset(root)
        images = torch.stack([dataset[i]["image"] for i in range(len(dataset))])
        print(f"eval split: {len(dataset)} pairs of {args.panel}x{args.panel} panels, model {cfg.model.backbone}")
        print_table(measure(model, dataset, images, args.batch_sizes, args.workers), cfg.model.backbone)
    print(f"\ntotal bench time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
