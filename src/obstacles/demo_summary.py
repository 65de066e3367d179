"""The summary `make demo` ends with (obstacles.commands.demo): each stage's headline numbers, read
from the outputs the pipeline wrote, then where to look at every output. Reads files only."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from obstacles.lineage.names import BAD_INPUTS_NAME, EVAL, MANIFEST_NAME, SPLITS, SRC_DIR, TRAIN, VAL


def dataset_lines(root: Path, dataset: Path, sites: list[str]) -> list[str]:
    """The merged dataset's pairs per site, split and label, and each site's bad inputs."""
    with (dataset / MANIFEST_NAME).open() as handle:
        rows = list(csv.DictReader(handle))
    counts: dict[tuple, int] = {}
    for row in rows:
        key = (row["site"], row["split"], row["label"])
        counts[key] = counts.get(key, 0) + 1
    lines = [
        f"dataset {dataset.relative_to(root)} ({len(rows)} pairs)",
        f"  {'site':<20} {'split':<6} {'obstacle':>9} {'no_obstacle':>12}",
    ]
    for site in sorted({r["site"] for r in rows}):
        for split in SPLITS:
            lines.append(
                f"  {site:<20} {split:<6} {counts.get((site, split, 'obstacle'), 0):>9} "
                f"{counts.get((site, split, 'no_obstacle'), 0):>12}"
            )
    for site in sites:
        report = root / "datasets" / site / SRC_DIR / BAD_INPUTS_NAME
        n_bad = max(0, len(report.read_text().splitlines()) - 1) if report.exists() else 0
        lines.append(f"  {site}: {n_bad} bad input(s) in datasets/{site}/{SRC_DIR}/{BAD_INPUTS_NAME}")
    return lines


def weights_lines(weights_dir: Path) -> list[str]:
    """Each class's sample weights, from the weights stage's summary.json."""
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


def training_lines(run: Path) -> list[str]:
    """Which split picked the checkpoint, and its number there (run.json)."""
    record = json.loads((run / "run.json").read_text())
    selected_on = record.get("validation_split") or VAL
    return [
        f"training on the {TRAIN} split; best.ckpt picked (and early stopping watched) on the {selected_on} "
        f"split: {record['optimized_metric']} {record['best_value']:.3f} there"
        + ("" if selected_on != EVAL else " (no val split: the eval numbers below are optimistic)")
    ]


def evaluation_lines(eval_dir: Path) -> list[str]:
    """The headline metrics and the single-threshold table (metrics.json, its provenance)."""
    metrics = json.loads((eval_dir / "metrics.json").read_text())
    origin = json.loads((eval_dir / "metrics.provenance.json").read_text())  # metrics.json holds numbers only
    lines = [
        f"evaluation of {origin['checkpoint']} on {metrics['n']} eval pairs: AUROC {metrics['auroc']:.3f}, "
        f"AP {metrics['average_precision']:.3f}, specificity at sensitivity {metrics['sensitivity_target']} "
        f"{metrics['specificity_at_sensitivity']:.3f}",
        f"  {'threshold':>9} {'recall':>7} {'specif.':>7} {'accuracy':>8} {'FN':>4} {'FP':>4}",
    ]
    return lines + [
        f"  {row['threshold']:>9.2f} {row['recall']:>7.3f} {row['specificity']:>7.3f} "
        f"{row['accuracy']:>8.3f} {row['fn']:>4} {row['fp']:>4}"
        for row in metrics["thresholds"].values()
    ]


def champion_lines(champion_dir: Path) -> list[str]:
    """The trained model beside the deployed one on the same eval frames, and the verdict
    (champion.json and its provenance, written by the champion stage)."""
    from obstacles.champion import wording

    report_file = champion_dir / "champion.json"
    if not report_file.is_file():
        return [f"champion vs challenger: no {report_file} (dvc repro champion)"]
    report = json.loads(report_file.read_text())
    provenance = json.loads((champion_dir / "champion.provenance.json").read_text())
    first, *rest = wording.summary(report, provenance)
    return [f"is the new model better than the deployed one? {first}", *rest]


def threshold_lines(thresholds_dir: Path) -> list[str]:
    """The deployed pair, what it guarantees and where more labels would help (thresholds.json)."""
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


def demo_summary(root: Path, name: str, sites: list[str]) -> str:
    """What `make demo` ends with: the numbers of dataset `name` (built from `sites`) and of the
    demo's training run in the project at root, then where to look at each output."""
    reports = root / "reports" / name
    run = root / "experiments" / f"000.{name}.demo"
    lines = [
        "",
        "=== demo summary ===",
        *dataset_lines(root, root / "datasets" / name, sites),
        *weights_lines(root / "datasets" / f"{name}_weights"),
        *training_lines(run),
        *evaluation_lines(reports / "eval"),
        *champion_lines(reports / "champion"),
        *threshold_lines(reports / "thresholds"),
        "where to look",
        f"  dataset      datasets/{name}/manifest.csv; as the field's folders: python -m obstacles.commands.folder_view "
        f"(views/{name}/, hard links)",
        f"  weights      datasets/{name}_weights/weight_curve.png, weight_distribution.png",
        f"  training     {run.relative_to(root)}/ (curves.png, samples.png, checkpoints/)",
        f"  evaluation   reports/{name}/eval/figures/ (confusion_t*.png, roc_pr.png), "
        f"galleries/t*/index.html (false negatives and positives)",
        f"  champion     reports/{name}/champion/champion.json, roc_overlay.png, per_site.csv (vs the deployed score)",
        f"  thresholds   reports/{name}/thresholds/thresholds.json, risk_coverage.png, per_site_thresholds.csv",
        "  dvc          dvc metrics show; dvc plots show (writes dvc_plots/index.html); dvc dag",
        f"  ship it      python -m obstacles.commands.export ckpt_path={run.relative_to(root)} "
        f"thresholds_path=reports/{name}/thresholds/thresholds.json",
        f"  audit        reports/audit/{name}/index.html (leakage, label conflicts, surprising labels)",
        *(
            [f"  label issues reports/label_issues/{name}/index.html (out of fold; the frozen stage's recorded report)"]
            if (root / "reports" / "label_issues" / name / "index.html").is_file()
            else []
        ),
        "  curate       python -m obstacles.commands.similar | label_issues | data_map | review site=<id> order=value "
        "(docs/curation.md)",
        f"  W&B          offline runs in {run.relative_to(root)}/wandb/ and reports/{name}/wandb/;",
        f"               upload with: wandb sync {run.relative_to(root)}/wandb/offline-run-* "
        f"reports/{name}/wandb/offline-run-*",
    ]
    return "\n".join(lines)
