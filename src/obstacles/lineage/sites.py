"""The registry of recordings: conf/sites.yaml, conf/site/<id>.yaml, and the merge stage's deps.

DVC cannot expand a list into a stage's deps, so registering a site also writes its lines into
the `balanced` stage of dvc.yaml; `check_registry` tells when the two disagree.
"""

from __future__ import annotations

import io
from pathlib import Path

from ruamel.yaml import YAML

from obstacles.lineage.names import DIFF_TABLE, SITE_ID, SPLIT_TABLE

MERGE_STAGE = "balanced"
SITE_MERGE_INPUTS = (SPLIT_TABLE, DIFF_TABLE)


def validate_site_id(site: str) -> str:
    if not isinstance(site, str) or not SITE_ID.fullmatch(site):
        raise ValueError(f"site {site!r} must look like <site>_<yyyymm>_<seq>, lower case, e.g. plant_202209_01")
    return site


def _yaml() -> YAML:
    yaml = YAML()  # round-trip: keeps comments and order
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 4096
    return yaml


def _dump(yaml: YAML, data) -> str:
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def registered_sites(root: Path) -> list[str]:
    return list(_yaml().load((root / "conf" / "sites.yaml").read_text())["sites"] or [])


def merge_deps(site: str) -> list[str]:
    return [f"datasets/{site}/{name}" for name in SITE_MERGE_INPUTS]


def check_registry(root: Path) -> list[str]:
    """Problems between conf/sites.yaml, conf/site/*.yaml and dvc.yaml (empty when consistent)."""
    sites = registered_sites(root)
    deps = [
        d
        for d in _yaml().load((root / "dvc.yaml").read_text())["stages"][MERGE_STAGE]["deps"]
        if str(d).startswith("datasets/")
    ]
    expected = [dep for site in sites for dep in merge_deps(site)]
    problems = [f"conf/site/{s}.yaml is missing" for s in sites if not (root / "conf" / "site" / f"{s}.yaml").is_file()]
    if sorted(deps) != sorted(expected):
        problems.append(
            f"dvc.yaml stage {MERGE_STAGE} deps {sorted(set(deps) ^ set(expected))} disagree with conf/sites.yaml"
        )
    return problems


def register_site(root: Path, site: str, pixel_threshold: float, note: str = "") -> None:
    """Add a recording to the config and the pipeline; idempotent for a site already there."""
    validate_site_id(site)
    yaml = _yaml()
    site_conf = root / "conf" / "site" / f"{site}.yaml"
    if not site_conf.exists():
        site_conf.write_text(
            f"# Site constants for recording {site}.{(' ' + note) if note else ''}\n"
            f"name: {site}\n"
            f"pixel_threshold: {pixel_threshold}  # |current - reference| above this marks a changed pixel\n"
        )
    sites_file = root / "conf" / "sites.yaml"
    sites_doc = yaml.load(sites_file.read_text())
    if site not in sites_doc["sites"]:
        sites_doc["sites"].append(site)
        sites_file.write_text(_dump(yaml, sites_doc))
    dvc_file = root / "dvc.yaml"
    pipeline = yaml.load(dvc_file.read_text())
    deps = pipeline["stages"][MERGE_STAGE]["deps"]
    missing = [dep for dep in merge_deps(site) if dep not in deps]
    if missing:
        deps.extend(missing)
        dvc_file.write_text(_dump(yaml, pipeline))
