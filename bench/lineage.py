"""Data lineage cost as users pay it: real `dvc repro weights` in a scratch copy of the project.

For each size (recorded triplets in total) it copies the project's files (`git ls-files -co
--exclude-standard`: tracked plus untracked-not-ignored, so uncommitted work is measured too) into
`<root>/<size>/project`, commits them to a fresh git repository with no DVC remote, simulates the
demo's two sites (1,000 frames) and, above 1,000, up to 6 more sites sharing the rest
(`python -m obstacles.commands.simulate` into a side folder, then `python -m obstacles.commands.add_recording`, then
one `dvc add data`; none of it timed). Then it times, wall clock around each command:

- the full build, `dvc repro weights` (the `weights` stage and everything upstream, never the
  training stages), from nothing built;
- a no-op `dvc repro weights` right after, and `dvc status --with-deps weights` (every stage of the
  lineage, as a no-op repro checks them; plain `dvc status weights` checks the weights stage alone);
- `dvc repro weights` after flipping one label of the 400-frame demo site office_202210_02
  (obstacle <-> no_obstacle), with the stages DVC ran.

Stage commands run through a `python` shim first on PATH that logs each command's own seconds,
so DVC's share of a repro is 1 - (stage commands / total). Disk: files under datasets/, and the
bytes of datasets/ + .dvc/cache against data/ (each inode counted once, and apparent size).
Only public commands and files on disk are used, so it does not depend on the stages' outputs'
layout. Every command runs with the scratch project as cwd, OBSTACLES_ROOT set to it and
PYTHONPATH=<scratch>/src (the editable install would otherwise import this checkout's code, not
the copy DVC hashes), WANDB_MODE=offline, the venv's bin first on PATH.

    python bench/lineage.py [--sizes 1000,10000,30000] [--root /tmp/obstacles-lineage] [--out bench/results] [--keep]

Writes lineage.json and lineage.md under --out (per size: every timed command's output tail and
stage-command log too). The 30k size needs up to about 10 GB of scratch disk and tens of minutes on
2 cores (simulation included); a size's scratch folder is deleted after it unless --keep (or the
size failed: then it is kept and named). --repo copies another checkout (default: this one).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from settle import mark_cleanup, wait_after_cleanup  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
VENV_BIN = Path(sys.executable).parent  # the venv running this script (not resolved: a venv's python is a link)

TARGET = "weights"  # the last data stage: `dvc repro weights` builds the lineage and never trains
DEMO_SITES = {"plant_202209_01": 600, "office_202210_02": 400}  # conf/simulate.yaml
DEMO_FRAMES = sum(DEMO_SITES.values())
EDIT_SITE = "office_202210_02"
MAX_EXTRA_SITES = 6  # 8 sites in all
MIN_EXTRA_FRAMES = 400  # an extra site is given at least this many frames (fewer sites below 6 x 400)
FLIP = {"obstacle": "no_obstacle", "no_obstacle": "obstacle"}
CLEANUP_MARKER = "last-cleanup"  # touched after each scratch delete: the next size waits it out
LOG_ENV = "OBSTACLES_LINEAGE_LOG"  # the shim appends "<argv> <seconds>" here when set
RUNNING = re.compile(r"Running stage '([^']+)'")

SHIM = """#!/usr/bin/env bash
# bench/lineage.py: runs the real python, then logs "<argv> <seconds>" to ${LOG_ENV} (when set)
start=$(date +%s%N)
"{python}" "$@"
rc=$?
end=$(date +%s%N)
if [ -n "${LOG_ENV}" ]; then
  ns=$((end - start))
  printf 'python %s %d.%09d\\n' "$*" $((ns / 1000000000)) $((ns % 1000000000)) >> "${LOG_ENV}"
fi
exit $rc
"""


def step(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", flush=True)


class Project:
    """A scratch project and the environment every command runs in."""

    def __init__(self, path: Path, shim_dir: Path):
        self.path = path
        self.logs = path.parent / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if k not in ("OBSTACLES_ROOT", LOG_ENV, "PYTHONPATH")}
        env.update(
            OBSTACLES_ROOT=str(path),
            PYTHONPATH=str(path / "src"),
            PYTHONDONTWRITEBYTECODE="1",
            WANDB_MODE="offline",
            DVC_NO_ANALYTICS="1",
            PATH=f"{shim_dir}{os.pathsep}{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        self.env = env

    def run(self, *command: str, log: Path | None = None, check: bool = True) -> tuple[float, str]:
        """(wall seconds, stdout + stderr); raises with the output's tail when the command fails (if check)."""
        env = self.env if log is None else {**self.env, LOG_ENV: str(log)}
        started = time.perf_counter()
        result = subprocess.run(
            command, cwd=self.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        seconds = time.perf_counter() - started
        if result.returncode and check:
            raise RuntimeError(
                f"`{' '.join(command)}` failed (exit {result.returncode}) in {self.path}:\n{result.stdout[-4000:]}"
            )
        return seconds, result.stdout

    def timed(self, name: str, *command: str) -> dict:
        """One timed command with the stage commands' own seconds from the shim's log."""
        log = self.logs / f"{name}.log"
        log.unlink(missing_ok=True)
        step(f"timed: {' '.join(command)} ({name})")
        seconds, output = self.run(*command, log=log)
        (self.logs / f"{name}.out").write_text(output)
        commands = read_shim_log(log)
        command_seconds = sum(c["seconds"] for c in commands)
        ran = RUNNING.findall(output)
        print(f"    {seconds:.2f} s, {len(ran)} stage(s) run, stage commands {command_seconds:.2f} s", flush=True)
        return {
            "command": " ".join(command),
            "seconds": seconds,
            "stages_run": ran,
            "stage_commands": commands,
            "stage_command_seconds": command_seconds,
            "dvc_share": 1 - command_seconds / seconds if seconds else None,
            "output_tail": output[-1500:],
        }


def read_shim_log(log: Path) -> list[dict]:
    if not log.exists():
        return []
    rows = []
    for line in log.read_text().splitlines():
        argv, _, seconds = line.rpartition(" ")
        rows.append({"argv": argv, "seconds": float(seconds)})
    return rows


def write_shim(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "python"
    shim.write_text(SHIM.replace("{python}", str(VENV_BIN / "python")).replace("{LOG_ENV}", LOG_ENV))
    shim.chmod(0o755)
    return folder


def project_files(repo: Path) -> list[str]:
    listed = subprocess.run(
        ["git", "-C", str(repo), "ls-files", "-co", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return sorted({name for name in listed.split("\0") if name})


def copy_project(repo: Path, target: Path) -> int:
    """Copy the listed files (tracked ones deleted in the work tree are left out); returns the count."""
    copied = 0
    for name in project_files(repo):
        source = repo / name
        if not os.path.lexists(source) or source.is_dir() and not source.is_symlink():
            continue  # deleted in the work tree, or a submodule
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name, follow_symlinks=False)
        copied += 1
    return copied


def extra_sites(size: int) -> dict[str, dict]:
    """Sites beyond the demo's two: up to 6 sharing size - 1,000 frames, ids <name>_<yyyymm>_<seq>."""
    extra = size - DEMO_FRAMES
    if extra <= 0:
        return {}
    count = max(1, min(MAX_EXTRA_SITES, extra // MIN_EXTRA_FRAMES))
    sites = {}
    for k in range(count):
        style = ("plant", "office")[k % 2]
        sites[f"{style}{k + 3}_2023{k + 1:02d}_01"] = {
            "n_frames": extra // count + (k < extra % count),
            "camera_id": 3001 + k,
            "start": f"2023-{k + 1:02d}-05T06:00:00",
            "style": style,
            "obstacle_fraction": 0.5,
            "mask_threshold": (50, 42)[k % 2],
        }
    return sites


def hydra_mapping(spec: dict) -> str:
    return "{" + ", ".join(f"{k}: '{v}'" if isinstance(v, str) else f"{k}: {v}" for k, v in spec.items()) + "}"


def prepare(project: Project, repo: Path, size: int) -> dict:
    """Scratch project with `size` recorded triplets, committed, nothing built. Not timed."""
    path, python = project.path, str(VENV_BIN / "python")
    step(f"copying {repo} into {path}")
    path.mkdir(parents=True)
    copied = copy_project(repo, path)
    for stale in ("data", "datasets", ".dvc/cache", ".dvc/tmp", ".dvc/config.local"):
        if os.path.lexists(path / stale):
            raise RuntimeError(f"{path / stale} came with the copy: it should be ignored by git")
    project.run("git", "init", "-q")
    project.run("git", "config", "user.name", "lineage bench")
    project.run("git", "config", "user.email", "lineage-bench@localhost")
    project.run("git", "config", "commit.gpgsign", "false")
    _, remotes = project.run("dvc", "remote", "list", "--project")
    for line in remotes.splitlines():
        if line.split():
            project.run("dvc", "remote", "remove", "--project", line.split()[0])  # nothing can push
    project.run("git", "add", "-A")
    project.run("git", "commit", "-q", "-m", "project files (bench/lineage.py)")

    step(f"simulating the demo sites ({DEMO_FRAMES} frames; data/ is never copied)")
    project.run(python, "-m", "obstacles.commands.simulate", "overwrite=true", "workers=0")
    sites = extra_sites(size)
    if sites:
        incoming = path.parent / "incoming"
        step(f"simulating {len(sites)} more sites ({size - DEMO_FRAMES} frames) into {incoming}")
        overrides = [f"paths.root_dir={incoming}", "workers=0", *(f"~sites.{site}" for site in DEMO_SITES)]
        overrides += [f"+sites.{site}={hydra_mapping(spec)}" for site, spec in sites.items()]
        project.run(python, "-m", "obstacles.commands.simulate", *overrides)
        for site, spec in sites.items():
            step(f"registering {site} ({spec['n_frames']} frames) with obstacles.commands.add_recording")
            project.run(
                python,
                "-m",
                "obstacles.commands.add_recording",
                f"source={incoming / 'data' / 'recordings' / site}",
                f"site={site}",
                f"pixel_threshold={spec['mask_threshold']}",
                "dvc_add=false",  # one `dvc add data` below for all of them
            )
        shutil.rmtree(incoming)
    step("dvc add data, git commit")
    project.run("dvc", "add", "-q", "data")
    project.run("git", "add", "-A")
    if project.run("git", "status", "--porcelain")[1].strip():  # the demo's sites alone change nothing
        project.run("git", "commit", "-q", "-m", "recordings registered (bench/lineage.py)")
    _, cache_type = project.run("dvc", "config", "cache.type", check=False)
    recordings = path / "data" / "recordings"
    triplets = {site.name: sum(1 for _ in (site / "images").iterdir()) for site in sorted(recordings.iterdir())}
    return {
        "files_copied": copied,
        "sites": triplets,
        "triplets": sum(triplets.values()),
        "cache_type": cache_type.strip() or "unset (DVC's default: reflink, else copy)",
    }


def flip_one_label(labels: Path) -> dict:
    """Flip the first obstacle/no_obstacle row without an opposite label; the rest of the file is kept byte for byte."""
    lines = labels.read_text().splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    label_col = header.index("label")
    opposite_col = header.index("opposite_label") if "opposite_label" in header else None
    for number, line in enumerate(lines[1:], start=2):
        row = next(csv.reader([line]))
        if row[label_col] in FLIP and (opposite_col is None or not row[opposite_col]):
            before = row[label_col]
            row[label_col] = FLIP[before]
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator=line[len(line.rstrip("\r\n")) :] or "\n").writerow(row)
            lines[number - 1] = buffer.getvalue()
            labels.write_text("".join(lines))
            return {"file": str(labels.name), "line": number, "image": row[0], "from": before, "to": row[label_col]}
    raise RuntimeError(f"{labels} has no obstacle/no_obstacle row to flip")


def tree(path: Path, seen: set, data_inodes: frozenset = frozenset()) -> dict:
    """Files (non-directories), apparent bytes, bytes of inodes not in `seen` (then added to it), and of
    those, the bytes of inodes data/ does not hold (`data_inodes`: its multiply linked ones)."""
    files = apparent = unique = beyond = linked = 0
    for folder, _, names in os.walk(path):
        for name in names:
            info = os.lstat(os.path.join(folder, name))
            files += 1
            apparent += info.st_size
            key = (info.st_dev, info.st_ino)
            linked += key in data_inodes
            if info.st_nlink > 1:  # an inode with one link cannot show up twice
                if key in seen:
                    continue
                seen.add(key)
            unique += info.st_size
            beyond += 0 if key in data_inodes else info.st_size
    return {
        "files": files,
        "apparent_bytes": apparent,
        "unique_bytes": unique,
        "beyond_data_bytes": beyond,
        "files_sharing_data_inodes": linked,
    }


def data_cache_bytes(path: Path) -> int:
    """Bytes of the cache objects data.dvc lists (`dvc add data`'s copy of the recordings); 0 if unreadable."""
    found = re.search(r"md5: ([0-9a-f]{32})\.dir", (path / "data.dvc").read_text())
    objects = path / ".dvc" / "cache" / "files" / "md5"
    if not found or not (objects / found[1][:2] / f"{found[1][2:]}.dir").is_file():
        return 0
    listing = json.loads((objects / found[1][:2] / f"{found[1][2:]}.dir").read_text())
    hashes = {entry["md5"] for entry in listing}
    return sum(os.lstat(objects / h[:2] / h[2:]).st_size for h in hashes if (objects / h[:2] / h[2:]).exists())


def disk(path: Path) -> dict:
    data_inodes: set = set()
    data = tree(path / "data", data_inodes)
    seen: set = set()
    frozen = frozenset(data_inodes)
    datasets, cache = tree(path / "datasets", seen, frozen), tree(path / ".dvc" / "cache", seen, frozen)
    both = datasets["unique_bytes"] + cache["unique_bytes"]
    apparent = datasets["apparent_bytes"] + cache["apparent_bytes"]
    beyond = datasets["beyond_data_bytes"] + cache["beyond_data_bytes"]
    data_copy = data_cache_bytes(path)
    return {
        "data": data,
        "datasets": datasets,
        "cache": cache,
        "datasets_cache_unique_bytes": both,
        "datasets_cache_apparent_bytes": apparent,
        "datasets_cache_beyond_data_bytes": beyond,
        "ratio_unique": both / data["unique_bytes"],
        "ratio_apparent": apparent / data["apparent_bytes"],
        "ratio_beyond_data": beyond / data["unique_bytes"],
        "cache_data_copy_bytes": data_copy,
        "ratio_without_data_copy": (both - data_copy) / data["unique_bytes"],
    }


def bench_size(repo: Path, root: Path, size: int, shim_dir: Path) -> dict:
    project = Project(root / str(size) / "project", shim_dir)
    setup = prepare(project, repo, size)
    step(f"{setup['triplets']} recorded triplets in {len(setup['sites'])} sites; nothing built yet")
    wait_after_cleanup(root / CLEANUP_MARKER)  # the previous size's scratch, deleted minutes ago
    full = project.timed("full", "dvc", "repro", TARGET)
    step("measuring disk after the full build")
    built = disk(project.path)
    noop = project.timed("noop", "dvc", "repro", TARGET)
    status = project.timed("status", "dvc", "status", "--with-deps", TARGET)
    edit_row = flip_one_label(project.path / "labels" / f"{EDIT_SITE}.csv")
    step(f"label edit: {edit_row['file']} line {edit_row['line']}: {edit_row['from']} -> {edit_row['to']}")
    edit = project.timed("edit", "dvc", "repro", TARGET)
    edited = disk(project.path)
    return {
        "size": size,
        **setup,
        "full": full,
        "noop": noop,
        "status": status,
        "status_up_to_date": "up to date" in status["output_tail"],
        "edit": edit,
        "edit_row": edit_row,
        "disk": built,
        "cache_growth_of_edit_bytes": edited["cache"]["unique_bytes"] - built["cache"]["unique_bytes"],
        "disk_after_edit": edited,
    }


def column(size: int) -> str:
    return f"{size / 1000:g}k"


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f}"


def rows(results: list[dict]) -> list[tuple[str, list[str]]]:
    def share(run):
        return "-" if run["dvc_share"] is None or not run["stages_run"] else f"{100 * run['dvc_share']:.0f}%"

    table = [
        ("recorded triplets", [f"{r['triplets']:,}" for r in results]),
        ("sites", [str(len(r["sites"])) for r in results]),
        (f"full build `dvc repro {TARGET}` (s)", [f"{r['full']['seconds']:.1f}" for r in results]),
        ("stages run in the full build", [str(len(r["full"]["stages_run"])) for r in results]),
        ("stage commands in the full build (s)", [f"{r['full']['stage_command_seconds']:.1f}" for r in results]),
        ("DVC share of the full build", [share(r["full"]) for r in results]),
        (f"no-op `dvc repro {TARGET}` (s)", [f"{r['noop']['seconds']:.2f}" for r in results]),
        (f"`dvc status --with-deps {TARGET}` (s)", [f"{r['status']['seconds']:.2f}" for r in results]),
        (f"label-edit `dvc repro {TARGET}` (s)", [f"{r['edit']['seconds']:.2f}" for r in results]),
        ("stages run in the label edit", [str(len(r["edit"]["stages_run"])) for r in results]),
        ("stage commands in the edit (s)", [f"{r['edit']['stage_command_seconds']:.2f}" for r in results]),
        ("DVC share of the edit", [share(r["edit"]) for r in results]),
        ("files under datasets/", [f"{r['disk']['datasets']['files']:,}" for r in results]),
        ("files per recorded triplet", [f"{r['disk']['datasets']['files'] / r['triplets']:.2f}" for r in results]),
        (
            "files under datasets/ hard-linked to data/",
            [f"{r['disk']['datasets']['files_sharing_data_inodes']:,}" for r in results],
        ),
        ("data/ (MB)", [mb(r["disk"]["data"]["unique_bytes"]) for r in results]),
        ("datasets/ (MB, inodes once)", [mb(r["disk"]["datasets"]["unique_bytes"]) for r in results]),
        (".dvc/cache (MB, inodes once)", [mb(r["disk"]["cache"]["unique_bytes"]) for r in results]),
        ("(datasets+cache)/data, inodes once", [f"{r['disk']['ratio_unique']:.2f}" for r in results]),
        ("(datasets+cache)/data, apparent", [f"{r['disk']['ratio_apparent']:.2f}" for r in results]),
        ("(datasets+cache beyond data's inodes)/data", [f"{r['disk']['ratio_beyond_data']:.2f}" for r in results]),
        (".dvc/cache: data.dvc's objects (MB)", [mb(r["disk"]["cache_data_copy_bytes"]) for r in results]),
        (
            "(datasets+cache - data.dvc's objects)/data",
            [f"{r['disk']['ratio_without_data_copy']:.2f}" for r in results],
        ),
        ("cache growth of the edit (MB)", [mb(r["cache_growth_of_edit_bytes"]) for r in results]),
    ]
    base = results[0]
    for key, name in (
        ("full", "full build"),
        ("noop", "no-op repro"),
        ("status", "dvc status"),
        ("edit", "label edit"),
    ):
        ratios = [f"{r[key]['seconds'] / base[key]['seconds']:.2f}x" for r in results]
        table.append((f"{name} / {column(base['size'])}", ratios))
    table.append((f"triplets / {column(base['size'])}", [f"{r['triplets'] / base['triplets']:.2f}x" for r in results]))
    return table


def markdown(results: list[dict], meta: dict) -> str:
    lines = [
        "# Data lineage: `dvc repro weights` in a scratch copy (bench/lineage.py)",
        "",
        f"{meta['date']}, {meta['cpus']} CPUs, Python {meta['python']}, {meta['dvc']}, scratch on {meta['filesystem']}"
        f", project at {meta['commit']} with its uncommitted work, DVC cache.type {results[0]['cache_type']}.",
        "",
        "| | " + " | ".join(column(r["size"]) for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    lines += [f"| {name} | " + " | ".join(values) + " |" for name, values in rows(results)]
    lines += ["", "Label edit (one row of `labels/office_202210_02.csv` flipped) and what DVC ran:", ""]
    for r in results:
        row = r["edit_row"]
        ran = ", ".join(f"`{s}`" for s in r["edit"]["stages_run"]) or "nothing"
        lines.append(f"- {column(r['size'])}: line {row['line']} {row['from']} -> {row['to']}; ran {ran}")
    lines += [
        "",
        f"Status timed: `dvc status --with-deps {TARGET}` (every stage of the lineage). Stage-command seconds come from a `python` shim "
        "first on PATH that times each stage command; DVC's share = 1 - commands / total (hashing, "
        "lock and cache work, its start-up). Disk is measured after the full build: datasets/ + .dvc/cache "
        "against data/, each inode once (hard links counted once), apparent = every path's size; "
        "'beyond data' leaves out the inodes data/ also holds. The cache includes `dvc add data`'s copy of "
        "the recordings. Simulating and registering the recordings is not timed.",
        "",
    ]
    return "\n".join(lines)


def filesystem(path: Path) -> str:
    best, kind = "", "unknown"
    target = str(path.resolve())
    for line in Path("/proc/mounts").read_text().splitlines():
        fields = line.split()
        if len(fields) > 2 and (target == fields[1] or target.startswith(fields[1].rstrip("/") + "/")):
            if len(fields[1]) > len(best):
                best, kind = fields[1], fields[2]
    return kind


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    if not sizes or sizes[0] < DEMO_FRAMES:
        raise argparse.ArgumentTypeError(f"sizes start at {DEMO_FRAMES} (the demo's two sites)")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", type=parse_sizes, default=[1000, 10000, 30000], help="recorded triplets, e.g. 1000,10000"
    )
    parser.add_argument("--root", type=Path, default=Path("/tmp/obstacles-lineage"), help="scratch folder")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for lineage.json and lineage.md")
    parser.add_argument("--keep", action="store_true", help="keep each size's scratch project")
    parser.add_argument("--repo", type=Path, default=REPO, help="the project to copy (default: this checkout)")
    args = parser.parse_args()
    repo, root = args.repo.resolve(), args.root.resolve()
    if not (VENV_BIN / "dvc").exists():
        sys.exit(f"no dvc in {VENV_BIN}: run this with the project's venv (.venv/bin/python bench/lineage.py)")
    if root == repo or repo in root.parents:
        sys.exit(f"--root {root} must be outside the project")
    root.mkdir(parents=True, exist_ok=True)
    shim_dir = write_shim(root / "shim")
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    meta = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "dvc": "dvc "
        + subprocess.run([str(VENV_BIN / "dvc"), "--version"], capture_output=True, text=True).stdout.strip(),
        "filesystem": filesystem(root),
        "commit": commit.stdout.strip() or "unknown",
        "repo": str(repo),
        "root": str(root),
        "target": TARGET,
        "status_command": f"dvc status --with-deps {TARGET}",
    }
    step(f"sizes {', '.join(map(str, args.sizes))}; scratch in {root}; {meta['dvc']}")
    results = []
    for size in args.sizes:
        scratch = root / str(size)
        if scratch.exists():
            step(f"removing the previous run's {scratch}")
            shutil.rmtree(scratch)
            mark_cleanup(root / CLEANUP_MARKER)
        step(f"== {size:,} recorded triplets ==")
        try:
            results.append(bench_size(repo, root, size, shim_dir))
        except Exception:
            print(f"size {size} failed; its scratch project is kept in {scratch}", file=sys.stderr, flush=True)
            raise
        if not args.keep:
            step(f"deleting {scratch}")
            shutil.rmtree(scratch)
            mark_cleanup(root / CLEANUP_MARKER)
    text = markdown(results, meta)
    print("\n" + text, flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "lineage.json").write_text(json.dumps({"meta": meta, "results": results}, indent=2) + "\n")
    (args.out / "lineage.md").write_text(text)
    print(f"figures written to {args.out / 'lineage.json'} and {args.out / 'lineage.md'}")
    if not args.keep:
        shutil.rmtree(shim_dir)


if __name__ == "__main__":
    main()
