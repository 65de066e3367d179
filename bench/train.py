"""Training throughput: the real data pipeline against in-memory tensors. Run: `python bench/train.py`.

Writes a synthetic dataset (default 512 JPEG pairs of 200x200 panels, the field's size) with
the test fixture builder, then times training steps of the configured model (default
backbone) fed by
1. in-memory batches (pre-decoded tensors: the model's speed alone), and
2. the datamodule reading the JPEGs (decode, augment, collate) with 0, 1, 2 loader workers,
3. in-memory batches again with `trainer.deterministic=true` (what reproducibility costs).
Prints steps/s (median step interval, data wait included; best of interleaved rounds) and
the pipeline/in-memory ratio per worker count (target >= 0.9), and how many batches/s the
loader alone delivers.

On a CUDA device it also times bf16-mixed + channels_last and estimates a 30-epoch run on a
field-sized dataset (40,000 training pairs), and writes figures to bench/results/.
About 3 minutes on 2 CPU cores with the defaults.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch import Callback
from torch.utils.data import DataLoader

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' helpers: tests.helpers
from tests.helpers.training import train_cfg, write_pair_dataset  # noqa: E402

RESULTS = ROOT / "bench" / "results"
FIELD_EPOCHS = 30


class StepTimer(Callback):
    """Time between consecutive step ends (data wait + step) after the warm-up steps; the
    median resists the spikes of a shared machine."""

    def __init__(self, warmup: int):
        self.warmup = warmup
        self.last = 0.0
        self.intervals: list[float] = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        now = time.perf_counter()
        if batch_idx >= self.warmup:
            self.intervals.append(now - self.last)
        self.last = now

    @property
    def steps_per_s(self) -> float:
        return 1.0 / statistics.median(self.intervals)


def loader_batches_per_s(datamodule, batches: int, warmup: int) -> float:
    """How fast the pipeline alone delivers batches (no model), median of batch intervals."""
    datamodule.setup("fit")
    intervals, last = [], time.perf_counter()
    for index, _ in enumerate(datamodule.train_dataloader()):
        now = time.perf_counter()
        if index >= warmup:
            intervals.append(now - last)
        last = now
        if index + 1 == warmup + batches:
            break
    return 1.0 / statistics.median(intervals)


def time_steps(cfg, loader_or_datamodule, steps: int, warmup: int, gpu: bool, deterministic: bool = False) -> float:
    """Training steps/s of a fresh model from cfg over the given data."""
    timer = StepTimer(warmup)
    trainer = L.Trainer(
        deterministic=deterministic,
        accelerator="gpu" if gpu else "cpu",
        devices=1,
        precision="bf16-mixed" if gpu else "32-true",
        max_steps=warmup + steps,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    model = instantiate(cfg.model)
    if isinstance(loader_or_datamodule, L.LightningDataModule):
        trainer.fit(model, datamodule=loader_or_datamodule)
    else:
        trainer.fit(model, train_dataloaders=loader_or_datamodule)
    return timer.steps_per_s


def in_memory_batches(cfg, count: int) -> DataLoader:
    """The first `count` batches of the real pipeline, decoded once and served from memory."""
    datamodule = instantiate(cfg.data)
    datamodule.setup("fit")
    batches = []
    for batch in datamodule.train_dataloader():
        batches.append(batch)
        if len(batches) == count:
            return DataLoader(batches, batch_size=None)
    raise ValueError(f"the dataset has fewer than {count} batches; use more --pairs")


def measure(root: Path, args, workers: list[int], gpu: bool) -> dict:
    """Best steps/s of each source over `args.repeats` interleaved rounds (a shared machine's
    load comes and goes; the best round is the closest to the machine's real speed)."""
    overrides = [f"data.batch_size={args.batch_size}", f"model.backbone={args.backbone}", "logger=none"]
    if gpu:
        overrides.append("model.channels_last=true")
    configs = {None: train_cfg(root, *overrides, dataset="bench")}
    for count in workers:
        configs[count] = train_cfg(root, *overrides, f"data.num_workers={count}", dataset="bench")
    memory_batches = in_memory_batches(configs[None], args.warmup + args.steps)
    best = dict.fromkeys(configs, 0.0)
    deterministic = 0.0  # in-memory again with trainer.deterministic=true: what reproducibility costs
    for _ in range(args.repeats):
        for count, cfg in configs.items():
            data = memory_batches if count is None else instantiate(cfg.data)
            best[count] = max(best[count], time_steps(cfg, data, args.steps, args.warmup, gpu))
        steps = time_steps(configs[None], memory_batches, args.steps, args.warmup, gpu, deterministic=True)
        deterministic = max(deterministic, steps)
    batch_size = configs[None].data.batch_size
    rows = [
        {"source": "in-memory", "workers": None, "steps_per_s": best[None]},
        {"source": "deterministic", "workers": None, "steps_per_s": deterministic},
    ]
    for count in workers:
        alone = loader_batches_per_s(instantiate(configs[count].data), args.steps, args.warmup)
        rows.append(
            {"source": "jpeg pipeline", "workers": count, "steps_per_s": best[count], "loader_batches_per_s": alone}
        )
    for row in rows:
        row["ratio"] = row["steps_per_s"] / best[None]
        row["images_per_s"] = row["steps_per_s"] * batch_size
    return {"backbone": configs[None].model.backbone, "batch_size": batch_size, "gpu": gpu, "rows": rows}


def print_table(result: dict) -> None:
    mode = "bf16-mixed + channels_last, GPU" if result["gpu"] else "fp32, CPU"
    print(f"\n{result['backbone']}, batch {result['batch_size']}, {mode}")
    header = f"{'source':>14} {'workers':>7} {'steps/s':>8} {'images/s':>9} {'vs memory':>9} {'loader alone b/s':>16}"
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        workers = "-" if row["workers"] is None else row["workers"]
        alone = f"{row['loader_batches_per_s']:>16.2f}" if "loader_batches_per_s" in row else f"{'-':>16}"
        speed = f"{row['steps_per_s']:>8.3f} {row['images_per_s']:>9.1f} {row['ratio']:>9.2f}"
        print(f"{row['source']:>14} {workers:>7} {speed} {alone}")
    print("b/s = batches per second the loader delivers with no model attached")
    deterministic = next(row for row in result["rows"] if row["source"] == "deterministic")
    print(
        f"trainer.deterministic=true costs {100 * (1 - deterministic['ratio']):.1f}% of the in-memory step time "
        "(the default where under 10% on a CPU step)"
    )


def estimate_field_run(result: dict, train_pairs: int) -> dict:
    best = max(row["images_per_s"] for row in result["rows"] if row["workers"] is not None)
    hours = FIELD_EPOCHS * train_pairs / best / 3600
    print(
        f"estimate: {FIELD_EPOCHS} epochs x {train_pairs:,} pairs at {best:.0f} images/s = {hours:.2f} h"
        " (training steps only)"
    )
    return {"epochs": FIELD_EPOCHS, "train_pairs": train_pairs, "images_per_s": best, "hours": hours}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=512, help="synthetic pairs to write")
    parser.add_argument("--panel", type=int, default=200, help="panel size in pixels")
    parser.add_argument("--backbone", default="resnet18")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first (workers start, caches)")
    parser.add_argument("--repeats", type=int, default=2, help="interleaved rounds; the best counts")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--gpu-workers", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--train-pairs", type=int, default=40_000, help="field-sized dataset for the GPU estimate")
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, CUDA {torch.cuda.is_available()}"
    )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        write_pair_dataset(root, "bench", n_pairs=args.pairs, panel=args.panel, eval_every=8)
        written = time.perf_counter() - start
        print(f"dataset: {args.pairs} pairs of {args.panel}x{args.panel} panels ({written:.1f} s to write)")
        result = measure(root, args, args.workers, gpu=False)
        print_table(result)
        if torch.cuda.is_available():
            gpu_result = measure(root, args, args.gpu_workers, gpu=True)
            gpu_result["device"] = torch.cuda.get_device_name()
            print_table(gpu_result)
            gpu_result["field_run"] = estimate_field_run(gpu_result, args.train_pairs)
            RESULTS.mkdir(parents=True, exist_ok=True)
            (RESULTS / "train_gpu.json").write_text(json.dumps(gpu_result, indent=2) + "\n")
            print(f"figures written to {RESULTS / 'train_gpu.json'}")
    print(f"\ntotal bench time {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
