"""Benchmark of the similarity search (DESIGN section 7). Run: `python bench/similar.py`.

Prints:
1. embedding throughput (images/s) of the configured training backbone (conf/model/, random
   init: speed does not depend on the weights) on simulated recorder triplets at the field's
   200x200 panel size, decode and preprocessing included;
2. the time of one query against 100,000 stored embeddings of that feature size (random unit
   vectors; one matrix product, top-k by argpartition), against the 100 ms target;
3. a whole `python -m obstacles.commands.similar` search run twice: cold (every image embedded) and again
   with the content-hash cache, and the speedup.
Takes about a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from obstacles.commands.similar import run as similar_run
from obstacles.curation.embedding import InputSpec, TimmEmbedder, embed_files
from obstacles.curation.similarity import normalize, top_k
from obstacles.infra.config import CONF_DIR, compose
from obstacles.simulation.recorder import simulate_site

TARGET_QUERY_S = 0.1
SITE = "plant_202209_01"


def simulated_images(root: Path, n_frames: int, panel: int) -> Path:
    config = OmegaConf.load(Path(CONF_DIR) / "simulate.yaml")
    config.common.panel_size = panel
    spec = config.sites[SITE]
    spec.n_frames = n_frames
    simulate_site(root / "recordings", root / "labels", SITE, spec, config.common, seed=0)
    return root / "recordings" / SITE / "images"


def embedding_throughput(images: Path, backbone: str, batch_size: int) -> tuple[float, int]:
    """(images/s, feature size), model creation excluded, no cache."""
    embedder = TimmEmbedder(backbone, in_chans=6, weights_path=None, seed=0)
    files = sorted(images.glob("*.jpg"))
    embed_files(files[:batch_size], embedder, InputSpec(None, None, False, 50), cache_dir=None, batch_size=batch_size)
    start = time.perf_counter()
    result = embed_files(files, embedder, InputSpec(None, None, False, 50), cache_dir=None, batch_size=batch_size)
    return len(files) / (time.perf_counter() - start), result.vectors.shape[1]


def query_time(stored: int, dim: int, queries: int, k: int) -> tuple[float, float]:
    """(mean, worst) seconds of one query: similarities to every stored vector, then its top k."""
    rng = np.random.default_rng(0)
    bank = normalize(rng.standard_normal((stored, dim), dtype=np.float32))
    probes = normalize(rng.standard_normal((queries, dim), dtype=np.float32))
    times = []
    for probe in probes:
        start = time.perf_counter()
        top_k(probe[None, :] @ bank.T, k)
        times.append(time.perf_counter() - start)
    return float(np.mean(times)), float(np.max(times))


def repeated_search(root: Path, images: Path, backbone: str) -> tuple[float, float]:
    """Seconds of a cold and of a cached `obstacles.commands.similar` run (query: the first image)."""
    query = sorted(images.glob("*.jpg"))[0]
    cfg = compose(
        "similar",
        [
            f"paths.root_dir={root}",
            f"image={query}",
            f"search_dir={images}",
            f"out_dir={root / 'out'}",
            "embedder=timm",
            f"embedder.backbone={backbone}",
            f"cache_dir={root / 'cache'}",
        ],
    )
    durations = []
    for _ in range(2):
        start = time.perf_counter()
        with redirect_stdout(StringIO()), redirect_stderr(StringIO()):  # the tool's summary and progress bar
            similar_run(cfg)
        durations.append(time.perf_counter() - start)
    return durations[0], durations[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=256, help="simulated triplets to embed")
    parser.add_argument("--panel", type=int, default=200, help="panel size in pixels")
    parser.add_argument("--stored", type=int, default=100_000, help="stored embeddings to query against")
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--top-k", type=int, default=100)
    args = parser.parse_args()
    backbone = compose("train").model.backbone
    batch_size = compose("similar", ["image=x", "search_dir=y"]).batch_size
    print(
        f"# similarity bench: {platform.processor() or platform.machine()}, torch threads "
        f"{torch.get_num_threads()}, backbone {backbone}, panels {args.panel}x{args.panel}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        images = simulated_images(root, args.images, args.panel)
        rate, dim = embedding_throughput(images, backbone, batch_size)
        print(
            f"embedding throughput   {rate:8.1f} images/s  ({args.images} triplets, batch {batch_size}, "
            f"decode + preprocessing + {backbone}; feature size {dim})"
        )
        mean, worst = query_time(args.stored, dim, args.queries, args.top_k)
        verdict = "meets" if mean < TARGET_QUERY_S else "MISSES"
        print(
            f"query vs {args.stored:,} stored {mean * 1000:8.1f} ms mean, {worst * 1000:.1f} ms worst "
            f"(dim {dim}, top {args.top_k}; {verdict} the {TARGET_QUERY_S * 1000:.0f} ms target)"
        )
        cold, warm = repeated_search(root, images, backbone)
        print(f"search, cold cache     {cold:8.2f} s  (1 query against {args.images} images)")
        print(f"search, from the cache {warm:8.2f} s  speedup {cold / warm:.1f}x")


if __name__ == "__main__":
    main()
