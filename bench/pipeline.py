"""Data pipeline throughput against the physical floor (decode + encode each image once).

Simulates a batch of triplets (not timed), then times every stage in-process with all cores,
with its CPU time, and the floor: OpenCV decoding and encoding each triplet once, same machine,
same run. The pipeline also has to create one file per pair, which that floor leaves out, so the
time to create one empty file per triplet, just before the pipeline, is printed too (on some
disks it rivals the decoding, and it shows a disk slowed by recent deletes).
Peak memory is read at two batch sizes to show it does not grow with the batch.

    python bench/pipeline.py [--frames 5000] [--small 1000] [--root /tmp/obstacles-bench]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from omegaconf import open_dict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from obstacles.commands.simulate import run as simulate  # noqa: E402
from obstacles.infra.config import compose
from obstacles.infra.parallel import parallel_map, resolve_workers
from obstacles.lineage.names import MANIFEST_NAME
from obstacles.stages import balanced, diff_metrics, mask_train, no_mask_train, split, src, weights  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from settle import mark_cleanup, wait_after_cleanup  # noqa: E402  (runs build into fresh folders, delete after timing)

SITE = "bench_202401_01"
STAGES = (
    ("src", src),
    ("mask_train", mask_train),
    ("no_mask_train", no_mask_train),
    ("split", split),
    ("diff_metrics", diff_metrics),
)


def make_batch(root: Path, frames: int) -> list[Path]:
    if (root / "data" / "recordings" / SITE / "images").is_dir():
        return sorted((root / "data" / "recordings" / SITE / "images").iterdir())
    cfg = compose(
        "simulate",
        [
            f"paths.root_dir={root}",
            "workers=0",
            "~sites.plant_202209_01",
            "~sites.office_202210_02",
            f"+sites.{SITE}={{n_frames: {frames}, camera_id: 9001, start: '2024-01-02T06:00:00', "
            "style: plant, obstacle_fraction: 0.5, mask_threshold: 50}",
        ],
    )
    started = time.perf_counter()
    simulate(cfg)
    print(f"simulated {frames} triplets in {time.perf_counter() - started:.1f} s (not part of the figures)")
    return sorted((root / "data" / "recordings" / SITE / "images").iterdir())


def _decode_encode(path: Path) -> int:
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    return len(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1])


def floor_seconds(images: list[Path], workers: int) -> float:
    started = time.perf_counter()
    for _ in parallel_map(_decode_encode, images, workers=workers):
        pass
    return time.perf_counter() - started


def peak_rss_mib() -> tuple[float, float]:
    """(this process, largest child) peak resident memory."""
    return (
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    )


def run_pipeline(root: Path, datasets: Path) -> tuple[dict[str, float], int]:
    cfg = compose("pipeline", [f"paths.root_dir={root}", f"paths.datasets_dir={datasets}", "workers=0"])
    with open_dict(cfg):
        cfg.site = {"name": SITE, "pixel_threshold": 50}
        cfg.sites = [SITE]
    seconds, cpu = {}, {}
    for name, stage in STAGES + (("balanced", balanced), ("weights", weights)):
        before, started = cpu_seconds(), time.perf_counter()
        stage.run(cfg)
        seconds[name] = time.perf_counter() - started
        cpu[name] = tuple(after - first for after, first in zip(cpu_seconds(), before))
    n_pairs = len((datasets / "demo_balanced" / MANIFEST_NAME).read_text().splitlines()) - 1
    return seconds, cpu, n_pairs


def cpu_seconds() -> tuple[float, float]:
    """(user, system) CPU seconds of this process and its finished workers together."""
    own, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + workers.ru_utime, own.ru_stime + workers.ru_stime


def create_seconds(n_files: int, folder: Path, workers: int) -> float:
    """Creating n empty files: the part of writing the pairs that decode + encode leaves out."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    for _ in parallel_map(_create, [folder / f"{i}.jpg" for i in range(n_files)], workers=workers):
        pass
    return time.perf_counter() - started


def _create(path: Path) -> None:
    path.touch(exist_ok=False)


def bench(root: Path, frames: int, run_dir: Path) -> dict:
    images = make_batch(root, frames)
    workers = resolve_workers(0)
    floor_1 = floor_seconds(images, 1)
    floor_n = floor_seconds(images, workers)
    create_n = create_seconds(len(images), run_dir / "create", workers)  # before: a slow disk shows itself
    seconds, cpu, n_pairs = run_pipeline(root, run_dir / "datasets")
    total = sum(seconds.values())
    return dict(
        frames=len(images),
        pairs=n_pairs,
        workers=workers,
        floor_1=floor_1,
        floor_n=floor_n,
        create_n=create_n,
        seconds=seconds,
        cpu=cpu,
        total=total,
        rss=peak_rss_mib(),
    )


def report(result: dict) -> None:
    n = result["frames"]
    print(f"\n{n} triplets in, {result['pairs']} pairs out, {result['workers']} worker(s)")
    print(f"  {'stage':<14} {'wall':>7}    {'triplets/s':>10}  {'cpu user':>8}  {'cpu sys':>7}")
    for name, sec in result["seconds"].items():
        user, system = result["cpu"][name]
        print(f"  {name:<14} {sec:7.2f} s  {n / sec:10.0f}  {user:8.2f}  {system:7.2f}")
    print(f"  {'pipeline':<14} {result['total']:7.2f} s  {result['pairs'] / result['total']:8.0f} pairs/s")
    print(
        f"  floor (decode+encode once, {result['workers']} workers) {result['floor_n']:6.2f} s  "
        f"-> pipeline / floor = {result['total'] / result['floor_n']:.2f}x"
    )
    print(
        f"  floor (decode+encode once, 1 worker)  {result['floor_1']:6.2f} s  "
        f"-> pipeline / floor = {result['total'] / result['floor_1']:.2f}x"
    )
    floor_io = result["floor_n"] + result["create_n"]
    print(
        f"  creating one file per triplet ({result['workers']} workers) {result['create_n']:6.2f} s  "
        f"-> pipeline / (floor + creating its files) = {result['total'] / floor_io:.2f}x"
    )
    print(f"  peak RSS: main {result['rss'][0]:.0f} MiB, largest worker {result['rss'][1]:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--small", type=int, default=1000, help="a smaller batch, to compare peak memory")
    parser.add_argument("--root", type=Path, default=Path("/tmp/obstacles-bench"))
    args = parser.parse_args()
    marker = args.root / "last-cleanup"
    wait_after_cleanup(marker)
    for frames in (args.small, args.frames):
        if frames:
            run_dir = (
                args.root / str(frames) / "runs" / str(time.time_ns())
            )  # inside the root: manifests are relative to it
            # each size in a fresh process, so peak memory is this size's own
            if os.fork() == 0:
                report(bench(args.root / str(frames), frames, run_dir))
                os._exit(0)
            os.wait()
    for frames in (args.small, args.frames):
        shutil.rmtree(args.root / str(frames) / "runs", ignore_errors=True)
    mark_cleanup(marker)


if __name__ == "__main__":
    main()
