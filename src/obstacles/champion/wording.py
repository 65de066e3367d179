"""The champion comparison in words, from champion.json and its provenance (no math, no files): for
the command's output, the demo summary and export's refusal, so all three say it alike."""

from __future__ import annotations

WORSE_CODE = -1  # champion.json's `verdict` of a significantly worse challenger


def figures(report: dict) -> str:
    """AUROCs, difference, interval, p and n in one phrase: what a decision quotes."""
    test = report.get("auroc_difference")
    aurocs = (
        f"challenger AUROC {report['challenger'].get('auroc', float('nan')):.3f} vs champion "
        f"{report['champion'].get('auroc', float('nan')):.3f}"
    )
    if test is None:
        return f"{aurocs} on {report['n']} frames (not testable)"
    level = round(100 * test["confidence"])
    return (
        f"{aurocs} on the same {report['n']} frames: difference {test['difference']:+.3f} "
        f"({level}% CI {test['ci_low']:+.3f} to {test['ci_high']:+.3f}), DeLong p = {test['p']:.3g}"
    )


def _coverage(report: dict, pair: str) -> str:
    parts = []
    for role in ("challenger", "champion"):
        pairs = report[role].get("thresholds", {})
        if pair in pairs:
            t = pairs[pair]
            parts.append(f"{role} {t['lower']:.2f}..{t['upper']:.2f} coverage {t['coverage']:.3f}")
    interval = report.get("coverage_difference", {}).get(pair, {})
    if "ci_low" in interval:
        parts.append(
            f"difference {interval['difference']:+.3f} ({round(100 * interval['confidence'])}% paired bootstrap "
            f"{interval['ci_low']:+.3f} to {interval['ci_high']:+.3f}, {interval['resamples_used']} resamples)"
        )
    return "; ".join(parts)


def summary(report: dict, provenance: dict) -> list[str]:
    """The comparison's lines: both models side by side on the same frames, the verdict, the frames
    a difference of this size would need, and each site's verdict."""
    champion = provenance.get("champion_from", {})
    name = "the deployed model (recorded score)" if champion.get("kind") == "deployed" else champion.get("source")
    left_out = report.get("n_left_out", 0)
    lines = [
        f"champion vs challenger, paired on {report['n']} eval frames; champion: {name}"
        + (f" ({left_out} challenger frame(s) without a champion score left out of the pairing)" if left_out else ""),
        f"  {figures(report)}",
        f"  verdict: {provenance.get('verdict_in_words')}",
    ]
    for role in ("challenger", "champion"):
        if "average_precision" in report[role]:
            lines[1] += f"; AP {role} {report[role]['average_precision']:.3f}"
    for pair in ("certified", "empirical"):
        text = _coverage(report, pair)
        if text:
            lines.append(f"  {pair} thresholds at the deployment limits: {text}")
    if report.get("frames_needed"):
        lines.append(
            f"  about {report['frames_needed']} eval frames would show a difference of this size "
            f"(two-sided alpha {report['alpha']:g}, power {report['power']:g})"
        )
    sites = provenance.get("per_site_verdicts") or {}
    if sites:
        lines.append(
            "  per site (per_site.csv): "
            + "; ".join(
                f"{site} {words['verdict_in_words']}"
                + (
                    f" (AUROC {report['per_site'][site]['challenger']['auroc']:.3f} vs "
                    f"{report['per_site'][site]['champion']['auroc']:.3f})"
                    if "auroc" in report["per_site"].get(site, {}).get("champion", {})
                    else ""
                )
                for site, words in sorted(sites.items())
            )
        )
    return lines
