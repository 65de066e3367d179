"""The DVC pipeline for real: dvc repro in a scratch copy of the project, an S3 remote on loopback.

One scratch project is built once and then changed step by step (the tests run in file order).
The data stages are driven through `dvc repro weights`; then push and pull, a new site, a byte for
byte rebuild and the whole pipeline, training and evaluation included.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml

from obstacles.infra.dvc_cli import PIPELINES
from obstacles.infra.local_s3 import LOCAL_CREDENTIALS, local_remote, local_s3_server
from obstacles.lineage.sites import check_registry
from tests.helpers.project import REPO, metric_leaves, tree_digest

# All slow (`make test-slow`, CI after `make test`): every DVC command and stage is a fresh process,
# and the file takes over a minute; test_stages and test_storage run the stages and the S3 remote
# in make test.
pytestmark = [pytest.mark.slow, pytest.mark.long]
SITES = ("plant_202209_01", "office_202210_02")
SMALL = [f"sites.{SITES[0]}.n_frames=48", f"sites.{SITES[1]}.n_frames=36"]
NEW_SITE_FRAMES = 48
TEST_EPOCHS = 2  # of the demo's 10
LABEL_ISSUES_PIPELINE = "pipelines/label_issues/dvc.yaml"  # frozen: its recorded outputs come along
PROJECT_FILES = ("conf", "src", "dvc.yaml", "pipelines", ".dvcignore", "reports/label_issues")
DATA_TARGET = "weights"  # the last data stage


def run(project: Path, *command: str, env_extra: dict | None = None, stdout_only: bool = False) -> str:
    env = {
        **os.environ,
        "OBSTACLES_ROOT": str(project),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **(env_extra or {}),
    }
    result = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True)
    if result.returncode:
        raise AssertionError(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return result.stdout if stdout_only else result.stdout + result.stderr


def data_digest(folder: Path) -> dict[str, str]:
    """Digest of the data files (DVC's own .gitignore files are git's business, not data)."""
    return {path: digest for path, digest in tree_digest(folder).items() if not path.endswith(".gitignore")}


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def lock_outs(project: Path) -> dict[str, str]:
    lock = yaml.safe_load((project / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("project")
    for name in PROJECT_FILES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, root / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
        else:
            shutil.copy2(source, root / name)
    # the demo's recipe, trained briefly: the pipeline's mechanics are under test, not the model
    demo = root / "conf" / "experiment" / "demo.yaml"
    short = (
        demo.read_text()
        .replace("max_epochs: 10", f"max_epochs: {TEST_EPOCHS}")
        .replace("num_workers: 1", "num_workers: 0")
    )
    assert short != demo.read_text(), "conf/experiment/demo.yaml changed shape: shorten its training here again"
    demo.write_text(short)
    run(root, "git", "init", "-q")
    run(root, "dvc", "init", "-q")
    shutil.copy2(REPO / ".dvc" / "config", root / ".dvc" / "config")
    run(root, sys.executable, "-m", "obstacles.commands.simulate", *SMALL)
    run(root, "dvc", "add", "-q", "data")
    inputs = tree_digest(root / "data") | tree_digest(root / "labels")
    output = run(root, "dvc", "repro", DATA_TARGET)
    assert tree_digest(root / "data") | tree_digest(root / "labels") == inputs, "stages never modify their inputs"
    return root, output


def test_first_repro_builds_every_stage(project):
    root, output = project
    per_site = {"src", "mask_train", "no_mask_train", "split", "diff_metrics"}
    expected = {f"{stage}@{site}" for stage in per_site for site in SITES} | {"balanced", "weights"}
    assert ran_stages(output) == expected
    manifest = (root / "datasets" / "demo_balanced" / "manifest.csv").read_text().splitlines()
    assert len(manifest) > 60 and {line.split(",")[1] for line in manifest[1:]} == set(SITES)
    # selections are manifests: image files only where pixels change, about one file per recorded frame
    files = [p.relative_to(root / "datasets") for p in (root / "datasets").rglob("*") if p.is_file()]
    images = [p for p in files if p.suffix == ".jpg"]
    assert images and all(p.parts[1] == "no_mask_train" for p in images)
    recorded = sum(1 for _ in (root / "data" / "recordings").glob("*/images/*"))
    assert len(images) <= 1.2 * recorded, (len(images), recorded)
    assert len(files) - len(images) <= 12 * len(SITES) + 8, "tables: a few per site, none per image"
    # cache.type hardlink,copy (.dvc/config): a pair and its cache object are one file on disk
    assert all(os.stat(root / "datasets" / p).st_nlink >= 2 for p in images)


def test_second_repro_runs_nothing(project):
    root, _ = project
    assert ran_stages(run(root, "dvc", "repro", DATA_TARGET)) == set()


def test_a_folder_view_is_invisible_to_dvc(project):
    root, _ = project
    run(root, sys.executable, "-m", "obstacles.commands.folder_view")
    assert any((root / "views" / "demo_balanced" / "train").rglob("*.jpg"))
    assert "up to date" in run(root, "dvc", "status", DATA_TARGET)
    assert ran_stages(run(root, "dvc", "repro", DATA_TARGET)) == set()


def test_label_change_reruns_only_that_sites_chain_from_mask_train(project):
    root, _ = project
    labels = root / "labels" / f"{SITES[0]}.csv"
    lines = labels.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if ",obstacle," in line)
    lines[index] = lines[index].replace(",obstacle,", ",skip,")
    labels.write_text("\n".join(lines) + "\n")
    ran = ran_stages(run(root, "dvc", "repro", DATA_TARGET))
    site = SITES[0]
    assert {f"mask_train@{site}", f"no_mask_train@{site}", "balanced", "weights"} <= ran
    assert f"src@{site}" not in ran
    assert not any(stage.endswith(SITES[1]) for stage in ran)


def test_weight_curve_parameter_reruns_only_weights(project):
    root, _ = project
    conf = root / "conf" / "weights" / "default.yaml"
    conf.write_text(conf.read_text().replace("alfa: -3.5", "alfa: -5.0"))
    assert ran_stages(run(root, "dvc", "repro", DATA_TARGET)) == {"weights"}


def test_same_inputs_give_byte_identical_outputs(project):
    root, _ = project
    before = lock_outs(root)
    digest = tree_digest(root / "datasets")
    shutil.rmtree(root / "datasets")
    run(root, "dvc", "repro", "--force", DATA_TARGET)
    assert lock_outs(root) == before
    assert tree_digest(root / "datasets") == digest


def test_push_then_pull_restores_identical_datasets(project):
    root, _ = project
    digest = data_digest(root / "datasets")
    user_config = {
        name: (root / ".dvc" / name).read_bytes() if (root / ".dvc" / name).exists() else None
        for name in ("config", "config.local")
    }
    with local_s3_server() as endpoint, local_remote(root, endpoint) as remote:
        assert "pushed" in run(root, "dvc", "push", "-r", remote.name, env_extra=remote.env)
        shutil.rmtree(root / "datasets")
        shutil.rmtree(root / ".dvc" / "cache")
        run(root, "dvc", "pull", "-r", remote.name, "--with-deps", DATA_TARGET, env_extra=remote.env)
    assert data_digest(root / "datasets") == digest
    assert {
        name: (root / ".dvc" / name).read_bytes() if (root / ".dvc" / name).exists() else None for name in user_config
    } == user_config, "the local server is a remote of its own"
    assert "config.local" in (root / ".dvc" / ".gitignore").read_text(), "endpoint and keys stay out of git"


def test_new_site_from_s3_builds_without_touching_other_sites(project, tmp_path):
    root, _ = project
    site = "lab_202301_03"
    staging = tmp_path / "incoming"
    # a recording made elsewhere, uploaded the way a site recorder does
    run(
        root,
        sys.executable,
        "-m",
        "obstacles.commands.simulate",
        f"paths.root_dir={staging}",
        f"~sites.{SITES[0]}",
        f"~sites.{SITES[1]}",
        f"+sites.{site}={{n_frames: {NEW_SITE_FRAMES}, camera_id: 3001, start: '2023-01-10T08:00:00', "
        "style: office, obstacle_fraction: 0.5, mask_threshold: 45}",
    )
    recording = staging / "data" / "recordings" / site
    with local_s3_server() as endpoint:
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id=LOCAL_CREDENTIALS["access_key_id"],
            aws_secret_access_key=LOCAL_CREDENTIALS["secret_access_key"],
        )
        s3.create_bucket(Bucket="site-uploads")
        for path in recording.rglob("*"):
            if path.is_file():
                s3.upload_file(str(path), "site-uploads", f"lab/{path.relative_to(recording).as_posix()}")
        env = {
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_ACCESS_KEY_ID": LOCAL_CREDENTIALS["access_key_id"],
            "AWS_SECRET_ACCESS_KEY": LOCAL_CREDENTIALS["secret_access_key"],
        }
        run(
            root,
            sys.executable,
            "-m",
            "obstacles.commands.add_recording",
            "source=s3://site-uploads/lab",
            f"site={site}",
            "pixel_threshold=45",
            env_extra=env,
        )
    assert tree_digest(root / "data" / "recordings" / site) == tree_digest(recording)
    assert check_registry(root) == []
    assert "pixel_threshold: 45" in (root / "conf" / "site" / f"{site}.yaml").read_text()
    header, *rows = (root / "labels" / f"{site}.csv").read_text().splitlines()
    assert header == "image,label,opposite_label" and len(rows) == NEW_SITE_FRAMES
    ran = ran_stages(run(root, "dvc", "repro", DATA_TARGET))
    assert {f"src@{site}", f"split@{site}", "balanced", "weights"} <= ran
    assert not any(stage.endswith(SITES[0]) or stage.endswith(SITES[1]) for stage in ran)


def test_full_pipeline_trains_evaluates_and_finds_thresholds(project):
    root, _ = project
    output = run(root, "dvc", "repro", env_extra={"WANDB_MODE": "offline"})
    assert {"train", "evaluate", "thresholds", "champion"} <= ran_stages(output)
    reports = root / "reports" / "demo_balanced"
    metrics = json.loads((reports / "eval" / "metrics.json").read_text())
    thresholds = json.loads((reports / "thresholds" / "thresholds.json").read_text())
    assert 0.0 <= metrics["auroc"] <= 1.0 and metrics["n"] > 0
    assert thresholds["lower"] <= thresholds["upper"]
    # what produced them sits beside them; the threshold search takes the evaluation's
    evaluated = json.loads((reports / "eval" / "metrics.provenance.json").read_text())
    searched = json.loads((reports / "thresholds" / "thresholds.provenance.json").read_text())
    assert evaluated["checkpoint"] == "experiments/000.demo_balanced.demo/checkpoints/best.ckpt"
    assert (
        searched["checkpoint"] == evaluated["checkpoint"]
        and searched["manifest_sha256"] == evaluated["manifest_sha256"]
    )
    assert searched["wandb"]["run_id"] == evaluated["wandb_run_id"], "the search joins the evaluation's W&B run"
    assert "metrics.json" in run(root, "dvc", "metrics", "show")
    assert ran_stages(run(root, "dvc", "repro")) == set(), "the whole pipeline is up to date"
    summary = run(
        root, sys.executable, "-c", "from obstacles.commands import demo; print(demo.summary())", stdout_only=True
    )
    assert f"evaluation of {evaluated['checkpoint']} on {metrics['n']} eval pairs" in summary
    assert "at the maximum" in summary, "the weights lines say where the weights sit"
    champion = json.loads((reports / "champion" / "champion.json").read_text())
    assert f"champion vs challenger, paired on {champion['n']} eval frames" in summary
    assert champion["n"] + champion["n_left_out"] == metrics["n"], "every eval pair, paired or counted"


# The README's view for comparing experiments: every metric, parameter and dependency is a column
# of `dvc exp show` (over 180 here), more than any terminal shows, so it names the columns to keep.
EXP_SHOW_KEEP = (
    "^(Experiment|Created|auroc|average_precision|coverage|rounded\\.coverage|missed_rate|false_alarm_rate"
    "|alfa|beta|gamma|swc|std_threshold_dist)$"
)


def test_dvc_compares_runs_by_numbers_only(project):
    """`dvc metrics show/diff` and `dvc exp show` read the metrics files: no paths, hashes, ids or commits
    there (they are in the *.provenance.json files beside them), and the headline figures readable."""
    root, _ = project
    reports = root / "reports" / "demo_balanced"
    shown = json.loads(run(root, "dvc", "metrics", "show", "--json", stdout_only=True))
    (workspace,) = shown.values()  # keyed "" before the first commit, "workspace" after
    files = workspace["data"]
    assert set(files) == {
        "reports/demo_balanced/eval/metrics.json",
        "reports/demo_balanced/thresholds/thresholds.json",
        "reports/demo_balanced/champion/champion.json",
    }
    not_numbers = {
        f"{path}:{key}": value
        for path, file in files.items()
        for key, value in metric_leaves(file["data"])
        if not isinstance(value, (int, float))
    }
    assert not_numbers == {}, "dvc metrics show lists numbers only"
    for path in files:
        provenance = json.loads((root / path).with_suffix(".provenance.json").read_text())
        assert "git_commit" in provenance and not set(provenance) & set(json.loads((root / path).read_text()))

    # dvc exp show needs a commit to compare against
    ignore = root / ".gitignore"  # `dvc add data` wrote it; offline W&B runs stay out of the commit
    ignore.write_text((ignore.read_text() if ignore.exists() else "") + "wandb/\n")
    run(root, "git", "add", "-A")
    run(
        root,
        "git",
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.com",
        "-c",
        "commit.gpgsign=false",
        "commit",
        "-q",
        "--no-verify",
        "-m",
        "pipeline run",
    )
    (row,) = [
        r for r in json.loads(run(root, "dvc", "exp", "show", "--json", stdout_only=True)) if r["rev"] == "workspace"
    ]
    exp_metrics = row["data"]["metrics"]
    assert set(exp_metrics) == set(files)
    assert all(isinstance(v, (int, float)) for file in exp_metrics.values() for _, v in metric_leaves(file["data"]))
    first_file = next(iter(exp_metrics.values()))["data"]
    assert next(iter(first_file)) == "auroc", "dvc exp show never collapses its first metric column"
    wide = {"COLUMNS": "200"}
    plain = run(root, "dvc", "exp", "show", "--no-pager", env_extra=wide, stdout_only=True)
    assert plain.strip() and max(map(len, plain.splitlines())) <= 200
    view = run(
        root,
        "dvc",
        "exp",
        "show",
        "--no-pager",
        "--drop",
        ".*",
        "--keep",
        EXP_SHOW_KEEP,
        env_extra=wide,
        stdout_only=True,
    )
    lines = view.splitlines()
    assert max(map(len, lines)) <= 200 and "…" not in view
    header = next(line.split() for line in lines if "Experiment" in line)
    workspace = next(line.split() for line in lines if line.split()[:1] == ["workspace"])
    cells = dict(zip(header, workspace))
    assert float(cells["auroc"]) == pytest.approx(
        json.loads((reports / "eval" / "metrics.json").read_text())["auroc"], abs=1e-4
    )
    thresholds = json.loads((reports / "thresholds" / "thresholds.json").read_text())
    assert float(cells["coverage"]) == pytest.approx(thresholds["coverage"], abs=1e-4)
    assert float(cells["rounded.coverage"]) == pytest.approx(thresholds["rounded"]["coverage"], abs=1e-4)
    assert float(cells["std_threshold_dist"]) == 0.5
    readme = (REPO / "README.md").read_text()
    assert f"dvc exp show --drop '.*' --keep '{EXP_SHOW_KEEP}'" in readme, "the README gives this view"


def test_the_demos_pipelines_leave_dvc_status_clean(project):
    """`make demo` reproduces every pipeline `dvc status` looks at, the optional ones included: the
    audit runs, the frozen label issues stage keeps the outputs it recorded (committed)."""
    root, _ = project
    pipelines = {p.relative_to(root).as_posix() for p in root.rglob("dvc.yaml") if ".dvc" not in p.parts}
    assert pipelines == set(PIPELINES)
    run(
        root,
        sys.executable,
        "-c",
        "from obstacles.commands import demo; demo.reproduce()",
        env_extra={"WANDB_MODE": "offline"},
    )
    assert "up to date" in run(root, "dvc", "status", DATA_TARGET)
    assert (root / "reports" / "audit" / "demo_balanced" / "index.html").is_file()
    assert "up to date" in run(root, "dvc", "status", LABEL_ISSUES_PIPELINE)
