"""`make demo`: the whole job on simulated recordings, ending with what it made.

simulate (if absent) -> dvc add data -> dvc repro -> dvc push to a local S3 server -> summary.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from omegaconf import OmegaConf

from obstacles.commands.storage import DVC, local_remote, local_s3_server
from obstacles.config import CONF_DIR, PROJECT_ROOT
from obstacles.lineage import BAD_INPUTS_NAME, EVAL, MANIFEST_NAME, SPLITS, SRC_DIR, TRAIN, VAL

ROOT = PROJECT_ROOT
# Every DVC pipeline of the project, in order: the optional audit too, so that `dvc status` (which
# looks at all of them) says "up to date" once the demo is done.
PIPELINES = ("dvc.yaml", "pipelines/audit/dvc.yaml")


def sh(*command: str, env: dict[str, str] | None = None) -> None:
    shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
    print(f"\n$ {shown + ' ' if shown else ''}{' '.join(command)}", flush=True)
    subprocess.run(command, cwd=ROOT, check=True, env={**os.environ, **env} if env else None)


def python_m(module: str, *overrides: str) -> None:
    sh(sys.executable, "-m", module, *overrides)


def demo_sites() -> list[str]:
    return list(OmegaConf.load(Path(CONF_DIR) / "sites.yaml").sites)


def ensure_recordings() -> None:
    missing = [s for s in demo_sites() if not (ROOT / "data" / "recordings" / s / "images").is_dir()]
    if missing:
        # labels/ is in git (a fresh clone has them, recordings not): regenerate both; same bytes
        python_m("obstacles.commands.simulate", "overwrite=true")


def push_to_local_s3() -> None:
    log = ROOT / ".dvc" / "tmp" / "moto_server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    # a remote of its own (`-r local-s3`, defined outside the checkout): the default remote and
    # .dvc/config.local, real credentials included, stay as they are
    with local_s3_server(log_path=log) as endpoint, local_remote(ROOT, endpoint) as remote:
        print(f"\nlocal S3 server {endpoint} stands in for {remote.url} as DVC remote {remote.name!r}")
        sh(*DVC, "push", "-r", remote.name, env=remote.env)


def _dataset_lines(dataset: Path) -> list[str]:
    with (dataset / MANIFEST_NAME).open() as handle:
        rows = list(csv.DictReader(handle))
    counts: dict[tuple, int] = {}
    for row in rows:
        key = (row["site"], row["split"], row["label"])
        counts[key] = counts.get(key, 0) + 1
    lines = [
        f"dataset {dataset.relative_to(ROOT)} ({len(rows)} pairs)",
        f"  {'site':<20} {'split':<6} {'obstacle':>9} {'no_obstacle':>12}",
    ]
    for site in sorted({r["site"] for r in rows}):
        for split in SPLITS:
            lines.append(
                f"  {site:<20} {split:<6} {counts.get((site, split, 'obstacle'), 0):>9} "
                f"{counts.get((site, split, 'no_obstacle'), 0):>12}"
            )
    for site in demo_sites():
        report = ROOT / "datasets" / site / SRC_DIR / BAD_INPUTS_NAME
        n_bad = max(0, len(report.read_text().splitlines()) - 1) if report.exists() else 0
        lines.append(f"  {site}: {n_bad} bad input(s) in datasets/{site}/{SRC_DIR}/{BAD_INPUTS_NAME}")
    return lines


def _weights_lines(weights_dir: Path) -> list[str]:
    classes = json.loads((weights_dir / "summary.json").read_text())["classes"]
    lines = ["sample weights (training split)"]
    for label, stats in classes.items():
        ends = (
            f"  {stats['share_at_min_weight']:.0%} at the minimum weight, {stats['share_at_max_weight']:.0%} at "
            "the maximum"
            if "share_at_max_weight" in stats
            else ""
        )
        lines.append(
            f"  {label:<12} mean {stats['sample_weight_mean']:.3f}  max {stats['sample_weight_max']:.3f}"
            f"  (diff_threshold {stats['diff_threshold']:.4f}){ends}"
        )
    return lines


def _training_lines(run: Path) -> list[str]:
    record = json.loads((run / "run.json").read_text())
    selected_on = record.get("validation_split") or VAL
    return [
        f"training on the {TRAIN} split; best.ckpt picked (and early stopping watched) on the {selected_on} "
        f"split: {record['optimized_metric']} {record['best_value']:.3f} there"
        + ("" if selected_on != EVAL else " (no val split: the eval numbers below are optimistic)")
    ]


def _evaluation_lines(eval_dir: Path) -> list[str]:
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    origin = json.loads((eval_dir / "metrics.provenance.json").read_text())  # metrics.json holds numbers only
    lines = [
        f"evaluation of {origin['checkpoint']} on {metrics['n']} eval pairs: AUROC {metrics['auroc']:.3f}, "
        f"AP {metrics['average_precision']:.3f}, specificity at sensitivity {metrics['sensitivity_target']} "
        f"{metrics['specificity_at_sensitivity']:.3f}",
        f"  {'threshold':>9} {'recall':>7} {'specif.':>7} {'accuracy':>8} {'FN':>4} {'FP':>4}",
    ]
    for row in metrics["thresholds"].values():
        lines.append(
            f"  {row['threshold']:>9.2f} {row['recall']:>7.3f} {row['specificity']:>7.3f} "
            f"{row['accuracy']:>8.3f} {row['fn']:>4} {row['fp']:>4}"
        )
    return lines


def _threshold_lines(thresholds_dir: Path) -> list[str]:
    from obstacles.thresholds import wording

    t = json.loads((thresholds_dir / "thresholds.json").read_text())
    r = t["rounded"]
    kind = f"certified at {t['confidence']:g}" if t.get("certified_search") else "empirical"
    exact_lower = f"{t['lower']:.4f}" if t["lower"] >= 0 else "< 0   "  # under every score: decides nothing
    lines = [
        f"deployment thresholds, searched on the {EVAL} split (missed <= {t['max_missed']}, "
        f"false alarms <= {t['max_false_alarm']}; {kind})",
        f"  deployed lower {r['lower']:.2f}    upper {r['upper']:.2f}    coverage {r['coverage']:.3f}  "
        f"missed {r['missed_rate']:.3f} (bound {r.get('missed_rate_upper', float('nan')):.3f})  "
        f"false alarms {r['false_alarm_rate']:.3f} (bound {r.get('false_alarm_rate_upper', float('nan')):.3f})  "
        f"({r['n_decided']} decided, {r['n_not_decided']} not decided)",
        f"  exact    lower {exact_lower}  upper {t['upper']:.4f}  coverage {t['coverage']:.3f}  "
        f"accuracy on decided {t['accuracy_decided']:.3f}",
    ]
    e = t.get("empirical")
    if e and t.get("certified_search"):
        lines.append(
            f"  empirical optimum beside it: lower {e['lower_rounded']:.2f}  upper {e['upper_rounded']:.2f}  "
            f"coverage {e['coverage_rounded']:.3f}  (bounds {e['missed_rate_upper']:.3f} missed, "
            f"{e['false_alarm_rate_upper']:.3f} false alarms: "
            f"{'certified' if e['certified_rounded'] else 'not certified'})"
        )
    lines.append(f"  what it guarantees: {wording.guarantee(t)}")
    lines += [f"  {line}" for line in wording.sides_deciding_nothing(t)]
    lines += [f"  more labelling: {line}" for line in wording.advice(t)]
    sites = t.get("per_site") or {}
    if sites:
        rows = [
            f"{site} {row['lower_rounded']:.2f}..{row['upper_rounded']:.2f} coverage {row['coverage_rounded']:.3f}"
            f"{'' if row.get('certified') else ' (not certified)'}"
            if "coverage_rounded" in row
            else f"{site} not searched (one class only)"
            for site, row in sorted(sites.items())
        ]
        lines.append(f"  per site (per_site_thresholds.csv): {'; '.join(rows)}")
    return lines


def summary() -> str:
    name = OmegaConf.load(Path(CONF_DIR) / "dataset" / "default.yaml").name
    reports = ROOT / "reports" / name
    run = ROOT / "experiments" / f"000.{name}.demo"
    lines = [
        "",
        "=== demo summary ===",
        *_dataset_lines(ROOT / "datasets" / name),
        *_weights_lines(ROOT / "datasets" / f"{name}_weights"),
        *_training_lines(run),
        *_evaluation_lines(reports / "eval"),
        *_threshold_lines(reports / "thresholds"),
        "where to look",
        f"  dataset      datasets/{name}/manifest.csv; as the field's folders: python -m obstacles.commands.folder_view "
        f"(views/{name}/, hard links)",
        f"  weights      datasets/{name}_weights/weight_curve.png, weight_distribution.png",
        f"  training     {run.relative_to(ROOT)}/ (curves.png, samples.png, checkpoints/)",
        f"  evaluation   reports/{name}/eval/figures/ (confusion_t*.png, roc_pr.png), "
        f"galleries/t*/index.html (false negatives and positives)",
        f"  thresholds   reports/{name}/thresholds/thresholds.json, risk_coverage.png, per_site_thresholds.csv",
        "  dvc          dvc metrics show; dvc plots show (writes dvc_plots/index.html); dvc dag",
        f"  ship it      python -m obstacles.commands.export ckpt_path={run.relative_to(ROOT)} "
        f"thresholds_path=reports/{name}/thresholds/thresholds.json",
        f"  audit        reports/audit/{name}/index.html (leakage, label conflicts, surprising labels)",
        "  curate       python -m obstacles.commands.similar | audit | review site=<id> (docs/curation.md)",
        f"  W&B          offline runs in {run.relative_to(ROOT)}/wandb/ and reports/{name}/wandb/;",
        f"               upload with: wandb sync {run.relative_to(ROOT)}/wandb/offline-run-* "
        f"reports/{name}/wandb/offline-run-*",
    ]
    return "\n".join(lines)


def reproduce() -> None:
    for pipeline in PIPELINES:
        sh(*DVC, "repro", pipeline)


def main() -> None:
    ensure_recordings()
    sh(*DVC, "add", "data")
    reproduce()
    push_to_local_s3()
    print(summary())


if __name__ == "__main__":
    main()
