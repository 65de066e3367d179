"""Plain words for a thresholds report (the dict `obstacles.thresholds.job` writes as
thresholds.json): what the deployed pair guarantees, at what confidence, and what more labelling
would buy. Shared by the CLI's printout, thresholds.provenance.json, the export bundle and the demo
summary, so they say the same thing. Reads only numbers; tolerates files written before certified
mode (they carry no bounds and are described as not certified).
"""

from __future__ import annotations

RULE = "score <= lower: no_obstacle; score > upper: obstacle; otherwise not decided (left to a person)"


def _percent(rate: float) -> str:
    return f"{100 * rate:.3g}%"


def deployed_pair(report: dict) -> tuple[float, float]:
    """(lower, upper) as deployed: the rounded values, else the exact ones of an older file."""
    rounded = report.get("rounded") or {}
    return (
        float(report.get("lower_rounded", rounded.get("lower", report["lower"]))),
        float(report.get("upper_rounded", rounded.get("upper", report["upper"]))),
    )


def is_certified(report: dict) -> bool:
    """Searched in certified mode and both bounds within the limits at the deployed values."""
    rounded = report.get("rounded") or {}
    return bool(report.get("certified_search")) and bool(rounded.get("certified", False))


def guarantee(report: dict) -> str:
    """One sentence: what the deployed pair guarantees on new frames, and at what confidence."""
    rounded = report.get("rounded") or {}
    max_missed, max_false_alarm = report.get("max_missed"), report.get("max_false_alarm")
    if "missed_rate_upper" not in rounded or max_missed is None:
        return (
            "not certified: this thresholds file carries no confidence bounds (search again with "
            "python -m obstacles.commands.thresholds)"
        )
    confidence = float(rounded["confidence"])
    n = int(rounded["n"])
    bounds = (
        f"upper bounds {rounded['missed_rate_upper']:.4f} missed and "
        f"{rounded['false_alarm_rate_upper']:.4f} false alarms at the deployed values"
    )
    decides = f"they decide {rounded['n_decided']} of the {n} evaluation images ({_percent(rounded['coverage'])})"
    if rounded["n_decided"] == 0:
        decides = f"trivially so: they decide none of the {n} evaluation images, every frame goes to a person"
    if is_certified(report):
        return (
            f"certified: with {_percent(confidence)} confidence over the draw of the {n} evaluation images, "
            f"on new frames like them at most {_percent(max_missed)} of obstacles are missed and at most "
            f"{_percent(max_false_alarm)} of obstacle-free frames raise a false alarm, both at once "
            f"({bounds}); {decides}"
        )
    return (
        f"not certified: the limits (missed <= {_percent(max_missed)}, false alarms <= "
        f"{_percent(max_false_alarm)}) held on the {n} evaluation images only; at {_percent(confidence)} "
        f"confidence the true rates may be as high as the {bounds}; {decides}"
    )


def sides_deciding_nothing(report: dict) -> list[str]:
    """Which side a certified pair leaves undecided because the class has too few images."""
    sides = []
    if report.get("allowed_missed", 0) < 0:
        sides.append(
            f"no image is called no_obstacle: {report['n_obstacle']} obstacle images cannot "
            f"certify missed <= {_percent(report['max_missed'])}"
        )
    if report.get("allowed_false_alarms", 0) < 0:
        sides.append(
            f"no image is called obstacle: {report['n_no_obstacle']} no_obstacle images cannot "
            f"certify false alarms <= {_percent(report['max_false_alarm'])}"
        )
    return sides


ADVICE_NAMES = {
    "missed": ("missed", "obstacle", "max_missed", "no miss"),
    "false_alarm": ("false alarms", "no_obstacle", "max_false_alarm", "no false alarm"),
}


def advice(report: dict) -> list[str]:
    """Per limit: images of its class in hand, images needed, the best limit certifiable as it is."""
    lines = []
    for key, entry in (report.get("advice") or {}).items():
        name, cls, limit_key, no_error = ADVICE_NAMES[key]
        limit = _percent(report[limit_key])
        have, needed = entry["images"], entry["needed"]
        if needed < 0:
            need = "a limit of 0 is never certified by finitely many images"
        elif have >= needed:
            need = f"enough for {name} <= {limit} (at least {needed} with {no_error} among them)"
        else:
            need = f"{needed} with {no_error} among them would certify {name} <= {limit}: label {needed - have} more"
        lines.append(
            f"{name}: {have} {cls} images in eval; {need}; as it is they certify {name} <= "
            f"{_percent(entry['best_limit'])} at best (at {_percent(report['confidence'])} confidence "
            f"for both limits)"
        )
    return lines


def summary(report: dict) -> list[str]:
    """What the command prints: the deployed pair, the empirical optimum beside a certified one,
    the guarantee, then (indented) sides deciding nothing and what more labelling would buy."""
    d = report["decimals"]
    rounded, empirical = report["rounded"], report["empirical"]
    kind = "certified" if report["certified_search"] else "empirical"
    lines = [
        f"deployed ({kind}): lower {report['lower_rounded']:.{d}f} (exact {report['lower']:.6g}), "
        f"upper {report['upper_rounded']:.{d}f} (exact {report['upper']:.6g}), "
        f"coverage {rounded['coverage']:.4f} rounded / {report['coverage']:.4f} exact, "
        f"missed {rounded['missed_rate']:.4f} (bound {rounded['missed_rate_upper']:.4f}), "
        f"false alarm {rounded['false_alarm_rate']:.4f} "
        f"(bound {rounded['false_alarm_rate_upper']:.4f})"
    ]
    if report["certified_search"]:
        lines.append(
            f"empirical optimum beside it: lower {empirical['lower_rounded']:.{d}f}, upper "
            f"{empirical['upper_rounded']:.{d}f}, coverage {empirical['coverage_rounded']:.4f} rounded "
            f"({'certified' if empirical['certified_rounded'] else 'not certified'})"
        )
    lines.append(guarantee(report))
    lines += [f"  {line}" for line in sides_deciding_nothing(report) + advice(report)]
    return lines
