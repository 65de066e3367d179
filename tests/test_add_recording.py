"""Bringing a recording in from a local folder, and its refusals."""

import sys

import pandas as pd
import pytest

from obstacles.commands import add_recording
from obstacles.infra.config import compose
from obstacles.lineage.sites import check_registry
from obstacles.stages import mask_train, src
from tests.helpers.project import REPO, pipeline_cfg, tree_digest
from tests.helpers.recordings import stem, triplet, write_frame

SITE = "lab_202301_03"


@pytest.fixture
def project(tmp_path):
    """A minimal project root: the registry files add_recording edits."""
    (tmp_path / "conf" / "site").mkdir(parents=True)
    (tmp_path / "conf" / "sites.yaml").write_text("sites:\n  - plant_202209_01\n")
    (tmp_path / "dvc.yaml").write_text(
        "stages:\n  balanced:\n    cmd: python -m obstacles.stages.balanced\n    deps:\n"
        "      - src/obstacles/stages/balanced.py\n      - datasets/plant_202209_01/split.csv\n"
        "      - datasets/plant_202209_01/diff_metrics.csv\n"
    )
    (tmp_path / "conf" / "site" / "plant_202209_01.yaml").write_text("name: plant_202209_01\npixel_threshold: 50\n")
    return tmp_path


@pytest.fixture
def source(tmp_path, rng):
    folder = tmp_path / "upload"
    for i, score in enumerate([0.05, 0.5, 0.95, 0.33]):
        write_frame(folder, stem(i), score, triplet(rng))
    write_frame(folder, "broken", None, triplet(rng), payload="{")
    return folder


def cfg_for(project, source, site=SITE):
    return compose(
        "add_recording",
        [
            f"paths.root_dir={project}",
            f"source={source}",
            f"recording_id={site}",
            "dvc_add=false",
            "pixel_threshold=44",
        ],
    )


def test_local_folder_is_copied_registered_and_prefilled(project, source, monkeypatch):
    before = tree_digest(source)
    add_recording.run(cfg_for(project, source))
    assert tree_digest(source) == before, "the source is never modified"
    assert tree_digest(project / "data" / "recordings" / SITE) == before
    rows = (project / "labels" / f"{SITE}.csv").read_text().splitlines()
    assert rows[0] == "image,label,opposite_label"
    labels = dict(line.split(",")[:2] for line in rows[1:])
    assert labels == {
        f"{stem(0)}.jpg": "no_obstacle",
        f"{stem(1)}.jpg": "skip",
        f"{stem(2)}.jpg": "obstacle",
        f"{stem(3)}.jpg": "no_obstacle",
    }, "pre-filled from the deployed score; bad JSON left out"
    assert "pixel_threshold: 44" in (project / "conf" / "site" / f"{SITE}.yaml").read_text()
    assert check_registry(project) == []


@pytest.mark.parametrize("site", ["Lab_2023_1", "../escape_202301_01", "lab-202301-01", "lab_202301_1"])
def test_bad_site_ids_are_refused(project, source, site):
    with pytest.raises(ValueError, match="must look like <site>_<yyyymm>_<seq>"):
        add_recording.run(cfg_for(project, source, site))
    assert not (project / "data").exists()


def test_existing_recording_or_labels_are_never_overwritten(project, source):
    add_recording.run(cfg_for(project, source))
    with pytest.raises(FileExistsError, match="already exists"):
        add_recording.run(cfg_for(project, source))
    other = "lab_202301_04"
    (project / "labels" / f"{other}.csv").write_text("a reviewer's work")
    with pytest.raises(FileExistsError, match="reviewer"):
        add_recording.run(cfg_for(project, source, other))
    assert (project / "labels" / f"{other}.csv").read_text() == "a reviewer's work"


def test_source_that_is_not_a_recording_leaves_nothing(project, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no images/ folder"):
        add_recording.run(cfg_for(project, tmp_path / "empty"))
    recordings = project / "data" / "recordings"
    assert not recordings.exists() or list(recordings.iterdir()) == []


def test_command_line_site_argument(monkeypatch, project, source):
    seen = {}
    monkeypatch.setattr(add_recording, "_hydra_main", lambda: seen.setdefault("argv", list(sys.argv)))
    monkeypatch.setattr(sys, "argv", ["add_recording", f"source={source}", f"site={SITE}"])
    add_recording.main()
    assert seen["argv"][1:] == [f"source={source}", f"recording_id={SITE}"]


def test_a_batch_with_broken_images_goes_through_triage_and_picks_with_no_hand_edit(project, source, rng):
    """Zero-byte, truncated, non-image and wrong-width files get no label row (triage's own check),
    so the documented workflow runs on: add_recording, then src and mask_train."""
    good = triplet(rng, obstacle=True)
    broken = {
        stem(10): b"",  # zero bytes
        stem(11): good[: len(good) // 2],  # truncated
        stem(12): b"this is a text file, not a JPEG",
        stem(13): triplet(rng, panels=2),  # two panels where three are configured
    }
    for name, data in broken.items():
        write_frame(source, name, 0.9, data)
    add_recording.run(cfg_for(project, source))
    label_file = project / "labels" / f"{SITE}.csv"
    labelled = {line.split(",")[0] for line in label_file.read_text().splitlines()[1:]}
    assert labelled == {f"{stem(i)}.jpg" for i in range(4)}, "no row for a file triage rejects"
    labels_before = label_file.read_bytes()
    cfg = pipeline_cfg(project, SITE)
    triaged = src.run(cfg)
    rejected = (triaged / "bad_inputs.csv").read_text()
    assert all(f"{name}.jpg" in rejected for name in broken)
    picks = pd.read_csv(mask_train.run(cfg))
    assert list(picks.loc[picks["label"] == "obstacle", "image"]) == [f"{stem(2)}.jpg"]
    assert label_file.read_bytes() == labels_before, "the label file is never modified"


def test_links_leaving_the_source_are_refused_each_named_and_nothing_is_copied(project, source, tmp_path, rng):
    """Issue 21 item 1: a link to a system file, a link to an image outside the recording and a
    linked folder were copied into data/ (then the DVC cache and S3) as the recording's own files."""
    outside = tmp_path / "elsewhere"
    write_frame(outside, "foreign", 0.9, triplet(rng))
    (outside / "home").mkdir()
    (outside / "home" / "credentials").write_text("aws_secret_access_key=...")
    secret = outside / "passwd"
    secret.write_text("root:x:0:0::/root:/bin/bash\n")
    images = source / "images"
    (images / "x.jpg").symlink_to(secret)
    (images / "foreign.jpg").symlink_to(outside / "images" / "foreign.jpg")
    (source / "json" / "home").symlink_to(outside / "home", target_is_directory=True)
    (images / "inside.jpg").symlink_to(images / f"{stem(0)}.jpg")  # stays inside: copied as a file
    before = tree_digest(source)
    with pytest.raises(ValueError, match="3 symbolic link\\(s\\) refused, nothing copied") as refused:
        add_recording.run(cfg_for(project, source))
    message = str(refused.value)
    for name in ("images/x.jpg", "images/foreign.jpg", "json/home"):
        assert f"{name} -> {outside}" in message and "leaves the recording" in message
    assert "inside.jpg" not in message
    assert tree_digest(source) == before
    recordings = project / "data" / "recordings"
    assert not recordings.exists() or list(recordings.iterdir()) == []
    assert not (project / "labels" / f"{SITE}.csv").exists()
    assert SITE not in (project / "conf" / "sites.yaml").read_text()


def added_bad(capsys) -> str:
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "site",
    ["x_\u0662\u0660\u0662\u0666\u0661\u0661_\u0660\u0661", f"{SITE}\n", "lab_\uff12\uff10\uff12\uff13\uff10\uff11_03"],
    ids=["arabic-indic-digits", "trailing-newline", "fullwidth-digits"],
)
def test_site_ids_with_non_ascii_digits_or_a_trailing_newline_are_refused(project, source, site):
    """Issue 21 item 4: `\\d` and `$` let these through into conf/sites.yaml and dvc.yaml."""
    before = (project / "dvc.yaml").read_text(), (project / "conf" / "sites.yaml").read_text()
    from obstacles.lineage.recordings import add_recording as add

    with pytest.raises(ValueError, match="must look like <site>_<yyyymm>_<seq>"):
        add(
            site,
            str(source),
            root=project,
            recordings_dir=project / "data" / "recordings",
            labels_dir=project / "labels",
            triage=add_recording_triage(),
            pixel_threshold=44,
        )
    assert not (project / "data").exists()
    assert ((project / "dvc.yaml").read_text(), (project / "conf" / "sites.yaml").read_text()) == before


def test_a_site_id_too_long_for_the_file_system_is_a_clear_error_before_anything_is_written(project, source):
    site = "a" * 300 + "_202301_01"
    with pytest.raises(ValueError, match=r"site id of 310 characters is too long: .* use at most \d+ characters"):
        add_recording.run(cfg_for(project, source, site))
    assert not (project / "data").exists() and not (project / "labels").exists()


def test_a_deep_or_huge_json_is_a_bad_input_not_a_crash_and_a_failure_leaves_nothing_for_a_retry(project, source, rng):
    """Issue 21 item 4: a 200,000-deep JSON raised RecursionError and left an orphan recording
    folder (no labels, no registration) that made every retry say FileExistsError."""
    write_frame(source, stem(10), None, triplet(rng), payload="[" * 200_000 + "]" * 200_000)
    write_frame(
        source,
        stem(11),
        None,
        triplet(rng),
        payload='{"dense": [0.5], "pad": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',
    )
    write_frame(source, stem(12), None, triplet(rng), payload=json_of_size(2_000_000))
    (project / "dvc.yaml").write_text("stages: [not, a, mapping]\n")  # registration will fail
    with pytest.raises(Exception):
        add_recording.run(cfg_for(project, source))
    recordings = project / "data" / "recordings"
    assert list(recordings.iterdir()) == [], "no orphan recording, visible or hidden"
    assert not (project / "labels" / f"{SITE}.csv").exists()
    assert not (project / "conf" / "site" / f"{SITE}.yaml").exists()
    assert SITE not in (project / "conf" / "sites.yaml").read_text()
    (project / "dvc.yaml").write_text(
        "stages:\n  balanced:\n    cmd: python -m obstacles.stages.balanced\n    deps:\n"
        "      - datasets/plant_202209_01/split.csv\n      - datasets/plant_202209_01/diff_metrics.csv\n"
    )
    added = add_recording.run(cfg_for(project, source))  # the retry goes through
    assert added == recordings / SITE
    labels = (project / "labels" / f"{SITE}.csv").read_text()
    report = {file.rsplit("/", 1)[-1]: reason for file, reason in bad_rows(project, source)}
    assert report[f"{stem(10)}.json"] == "JSON nested too deeply to parse"
    assert report[f"{stem(11)}.json"] == "JSON nested deeper than recording.max_json_depth=32"
    assert report[f"{stem(12)}.json"].startswith("JSON of 2000")
    assert all(stem(i) not in labels for i in (10, 11, 12))


def json_of_size(n: int) -> str:
    return '{"dense": [0.5], "pad": "' + "x" * n + '"}'


def bad_rows(project, source):
    """add_recording's own report of the files it left out (what the src stage will list)."""
    from obstacles.commands.add_recording import run  # noqa: F401 (the command is what users run)
    from obstacles.lineage.recordings import prefill_labels

    triage = add_recording_triage()
    _, bad = prefill_labels(project / "data" / "recordings" / SITE, triage)
    return bad.items


def add_recording_triage():
    from omegaconf import OmegaConf

    from obstacles.infra.config import CONF_DIR
    from obstacles.io.images import ImageLimits
    from obstacles.io.recording import JsonLimits
    from obstacles.lineage.recordings import Triage
    from obstacles.lineage.triage import TriageCutoffs

    pipeline = OmegaConf.load(f"{CONF_DIR}/pipeline.yaml")
    return Triage(
        pipeline.recording.score_field,
        int(pipeline.recording.panels),
        TriageCutoffs(pipeline.src.obstacle_above, pipeline.src.no_obstacle_at_most),
        ImageLimits.from_config(pipeline.recording),
        JsonLimits.from_config(pipeline.recording),
    )


def test_no_row_is_prefilled_that_the_label_file_reader_refuses_and_odd_files_are_reported(project, source, rng):
    """Issue 21 item 4: a backslash or a leading U+2028 in a name gave a pre-filled row that
    mask_train then refused; same-stem files lost one silently; duplicate JSON keys and a dense with
    several values were taken silently."""
    from obstacles.io.label_file import read_label_file

    image = triplet(rng)
    hostile = {
        "back\\slash": (image, 0.9, None),
        "\u2028leading": (image, 0.9, None),
        "two_keys": (image, None, '{"dense": [0.9], "dense": [0.1]}'),
        "two_values": (image, None, '{"dense": [0.9, 0.1]}'),
    }
    for name, (data, score, payload) in hostile.items():
        write_frame(source, name, score, data, payload)
    (source / "images" / "dup.jpg").write_bytes(image)
    (source / "images" / "dup.png").write_bytes(image)
    (source / "json" / "dup.json").write_text('{"dense": [0.9]}')
    (source / "images" / "Case.JPG").write_bytes(image)
    (source / "images" / "Case.jpg").write_bytes(image)
    (source / "json" / "Case.json").write_text('{"dense": [0.9]}')
    add_recording.run(cfg_for(project, source))
    picks = read_label_file(project / "labels" / f"{SITE}.csv", "no_obstacle")  # its own reader accepts it
    assert {pick.image for pick in picks} == {f"{stem(i)}.jpg" for i in range(4)}
    report = dict(bad_rows(project, source))
    assert "must be a file name inside images/, not a path; rename it" in report["images/back\\slash.jpg"]
    assert "white space" in report["images/\u2028leading.jpg"]
    assert report["json/two_keys.json"] == "duplicate key 'dense' in one JSON object"
    assert report["json/two_values.json"].startswith("2 values where field 'dense.0' expects one")
    for name in ("dup.jpg", "dup.png", "Case.JPG", "Case.jpg"):
        assert "2 files share the stem" in report[f"images/{name}"], name
    cfg = pipeline_cfg(project, SITE)
    index = pd.read_csv(src.run(cfg) / "index.csv")
    assert not ({"dup.jpg", "dup.png", "Case.JPG", "Case.jpg"} & set(index["image"])), "src reports them too"
    mask_train.run(cfg)  # the pre-filled file goes through with no hand edit


def test_registry_of_this_repository_is_consistent():
    assert check_registry(REPO) == []
