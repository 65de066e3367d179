"""`make demo`: the whole job on simulated recordings, ending with what it made.

simulate (if absent) -> dvc add data -> dvc repro -> dvc push to a local S3 server -> summary.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.config import CONF_DIR, PROJECT_ROOT
from obstacles.storage import DVC, local_s3_server, use_local_remote

ROOT = PROJECT_ROOT


def sh(*command: str) -> None:
    print(f"\n$ {' '.join(command)}", flush=True)
    subprocess.run(command, cwd=ROOT, check=True)


def python_m(module: str, *overrides: str) -> None:
    sh(sys.executable, "-m", module, *overrides)


def demo_sites() -> list[str]:
    return list(OmegaConf.load(Path(CONF_DIR) / "sites.yaml").sites)


def ensure_recordings() -> None:
    missing = [s for s in demo_sites() if not (ROOT / "data" / "recordings" / s / "images").is_dir()]
    if missing:
        python_m("obstacles.simulate")


def push_to_local_s3() -> None:
    log = ROOT / ".dvc" / "tmp" / "moto_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with local_s3_server(log_path=log) as endpoint:
        url = use_local_remote(ROOT, endpoint)
        print(f"\nlocal S3 server {endpoint} stands in for {url}")
        sh(*DVC, "push")


def summary() -> str:
    cfg = OmegaConf.load(Path(CONF_DIR) / "dataset" / "default.yaml")
    dataset = ROOT / "datasets" / cfg.name
    lines = [f"\n=== demo summary ===", f"merged dataset: {dataset.relative_to(ROOT)}"]
    with (dataset / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    counts: dict[tuple, int] = {}
    for row in rows:
        key = (row["site"], row["split"], row["label"])
        counts[key] = counts.get(key, 0) + 1
    lines.append(f"  {'site':<20} {'split':<6} {'obstacle':>9} {'no_obstacle':>12}")
    for site in sorted({r["site"] for r in rows}):
        for split in ("train", "eval"):
            lines.append(f"  {site:<20} {split:<6} {counts.get((site, split, 'obstacle'), 0):>9} "
                         f"{counts.get((site, split, 'no_obstacle'), 0):>12}")
    for site in demo_sites():
        report = ROOT / "datasets" / site / "src" / "bad_inputs.csv"
        n_bad = max(0, len(report.read_text().splitlines()) - 1) if report.exists() else 0
        lines.append(f"  {site}: triage in datasets/{site}/src (index.csv), {n_bad} bad input(s) reported")
    weights_dir = ROOT / "datasets" / f"{cfg.name}_weights"
    summary_json = json.loads((weights_dir / "summary.json").read_text())
    for label, stats in summary_json["classes"].items():
        lines.append(f"  weights {label:<12} mean {stats['sample_weight_mean']:.3f}  max {stats['sample_weight_max']:.3f}"
                     f"  (diff_threshold {stats['diff_threshold']:.4f})")
    lines.append(f"  pictures: {weights_dir.relative_to(ROOT)}/weight_curve.png, weight_distribution.png")
    return "\n".join(lines)


def main() -> None:
    ensure_recordings()
    sh(*DVC, "add", "data")
    sh(*DVC, "repro")
    push_to_local_s3()
    print(summary())


if __name__ == "__main__":
    main()
