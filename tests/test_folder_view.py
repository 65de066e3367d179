"""Selections are manifests (DESIGN 2): the readers resolve and check their paths, and
`obstacles.commands.folder_view` lays any of them out as the field's browsable folders, with hard links."""

from __future__ import annotations

import csv
import os

import pandas as pd
import pytest

from obstacles.commands import folder_view
from obstacles.data.dataset import read_manifest
from obstacles.io.manifests import ManifestError, check_relative, read_rows
from obstacles.lineage.names import MANIFEST_COLUMNS
from obstacles.stages import balanced, diff_metrics, mask_train, no_mask_train, split, src
from tests.helpers.project import pipeline_cfg, tree_digest
from tests.helpers.recordings import stem, triplet, write_frame

SITE = "plant_202209_01"
N_FRAMES = 24


@pytest.fixture
def lineage(tmp_path, rng):
    """One site through the whole chain (bursts of 3 frames, 30 min apart; every 4th frame reversed)."""
    recording = tmp_path / "data" / "recordings" / SITE
    rows = []
    for i in range(N_FRAMES):
        obstacle = (i // 3) % 2 == 0
        name = stem(i, minute=30 * (i // 3))
        write_frame(recording, name, 0.9 if obstacle else 0.1, triplet(rng, obstacle=obstacle))
        rows.append((f"{name}.jpg", "obstacle" if obstacle else "no_obstacle", "no_obstacle" if i % 4 == 0 else ""))
    (tmp_path / "labels").mkdir()
    with (tmp_path / "labels" / f"{SITE}.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([("image", "label", "opposite_label"), *rows])
    cfg = pipeline_cfg(tmp_path, SITE, overrides=["split.eval_fraction=0.25", "split.val_fraction=0.25"])
    for stage in (src, mask_train, no_mask_train, split, diff_metrics, balanced):
        stage.run(cfg)
    return tmp_path


def view_cfg(root, view, site=SITE):
    return pipeline_cfg(root, site, overrides=[f"view={view}"], config="folder_view")


def test_only_the_stage_that_changes_pixels_writes_image_files(lineage):
    images = [p.relative_to(lineage / "datasets").parts for p in (lineage / "datasets").rglob("*.jpg")]
    assert images and all(parts[:2] == (SITE, "no_mask_train") for parts in images)
    reversed_pairs = sum(1 for parts in images if parts[-1].endswith("_reversed.jpg"))
    assert len(images) == N_FRAMES + reversed_pairs == N_FRAMES + N_FRAMES // 4, "one file per pair, no copies"


def test_balanced_view_is_the_fields_layout_of_hard_links(lineage):
    out = folder_view.run(view_cfg(lineage, "balanced"))
    assert out == lineage / "views" / "demo_balanced"
    manifest = pd.read_csv(lineage / "datasets" / "demo_balanced" / "manifest.csv")
    expected = set()
    for row in manifest.itertuples():
        image = row.path.rsplit("/", 1)[-1]
        expected |= {f"sites/{row.site}/{row.label}/{image}", f"{row.split}/{row.label}/{row.site}__{image}"}
        for shown in (
            out / "sites" / row.site / row.label / image,
            out / row.split / row.label / f"{row.site}__{image}",
        ):
            assert os.path.samefile(shown, lineage / row.path), "a hard link to the pair, not a copy"
    assert set(tree_digest(out)) == expected
    assert {p.name for p in out.iterdir()} == {"sites", "train", "val", "eval"}


@pytest.mark.parametrize(
    ("view", "layout"),
    [
        ("src", lambda row: f"{row['class']}/{row['band']}/{row['image']}"),
        ("split", lambda row: f"{row['split']}/{row['label']}/{row['image']}"),
    ],
)
def test_a_sites_view_follows_its_manifest(lineage, view, layout):
    out = folder_view.run(view_cfg(lineage, view))
    assert out == lineage / "views" / SITE / view
    table = {"src": "datasets/plant_202209_01/src/index.csv", "split": "datasets/plant_202209_01/split.csv"}[view]
    rows = pd.read_csv(lineage / table).to_dict("records")
    assert set(tree_digest(out)) == {layout(row) for row in rows}
    for row in rows:
        assert os.path.samefile(out / layout(row), lineage / row["path"])


def test_mask_train_view_has_the_fields_class_and_opposite_folders(lineage):
    out = folder_view.run(view_cfg(lineage, "mask_train"))
    picks = pd.read_csv(lineage / "datasets" / SITE / "mask_train.csv", keep_default_na=False)
    assert {p.name for p in (out / "opposite").iterdir()} == set(picks.loc[picks["opposite_label"] != "", "image"])
    for label in ("obstacle", "no_obstacle"):
        assert {p.name for p in (out / label).iterdir()} == set(picks.loc[picks["label"] == label, "image"])


def test_a_view_is_rebuilt_whole_and_inputs_stay_as_they_are(lineage):
    before = tree_digest(lineage / "datasets") | tree_digest(lineage / "data")
    out = folder_view.run(view_cfg(lineage, "balanced"))
    (out / "stale.txt").write_text("left by hand")
    folder_view.run(view_cfg(lineage, "balanced"))
    assert not (out / "stale.txt").exists(), "a view is replaced whole, never merged into"
    assert tree_digest(lineage / "datasets") | tree_digest(lineage / "data") == before


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("path", "../../outside.jpg", "leaves the project"),
        ("path", "/etc/passwd", "leaves the project"),
        ("path", "C:\\Windows\\x.jpg", "leaves the project"),
        ("band", "../../../escaped", "not a plain folder or file name"),
        ("image", "a/b.jpg", "not a plain folder or file name"),
    ],
)
def test_a_hostile_manifest_row_is_named_with_its_line_and_nothing_is_written(lineage, column, value, message):
    index = lineage / "datasets" / SITE / "src" / "index.csv"
    table = pd.read_csv(index)
    table.loc[2, column] = value
    table.to_csv(index, index=False)
    with pytest.raises(ManifestError, match=rf"index.csv:4: .*{message}"):
        folder_view.run(view_cfg(lineage, "src"))
    assert not (lineage / "views").exists()
    assert not (lineage.parent / "outside.jpg").exists() and not (lineage / "escaped").exists()


def test_a_missing_file_is_named_before_any_link(lineage):
    first = pd.read_csv(lineage / "datasets" / SITE / "split.csv")["path"].iloc[0]
    (lineage / first).unlink()
    with pytest.raises(FileNotFoundError, match="1 file\\(s\\) it names are missing"):
        folder_view.run(view_cfg(lineage, "split"))
    assert not (lineage / "views").exists()


def test_an_unknown_view_is_refused(lineage):
    with pytest.raises(SystemExit, match="choose one of balanced, src, mask_train, split"):
        folder_view.run(view_cfg(lineage, "everything"))


def test_the_training_manifest_reader_resolves_under_the_root_and_refuses_escapes(lineage):
    manifest = lineage / "datasets" / "demo_balanced" / "manifest.csv"
    frame = read_manifest(manifest, lineage)
    assert list(frame.columns[: len(MANIFEST_COLUMNS)]) == list(MANIFEST_COLUMNS)
    assert all(os.path.isfile(file) for file in frame["file"])
    text = manifest.read_text().splitlines()
    text[3] = "../" + text[3]
    manifest.write_text("\n".join(text) + "\n")
    with pytest.raises(ManifestError, match=r"manifest.csv:4: path '\.\./datasets/.*' leaves the project"):
        read_manifest(manifest, lineage)


def test_read_rows_names_a_missing_column_and_a_short_row(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("image,path\n")
    with pytest.raises(ManifestError, match="t.csv:1: header lacks column\\(s\\) sha256"):
        read_rows(table, ("image", "path", "sha256"))
    table.write_text("image,path\n\na.jpg,x/a.jpg\nb.jpg\n")
    with pytest.raises(ManifestError, match="t.csv:4: expected 2 fields"):
        read_rows(table, ("image", "path"))
    assert check_relative("datasets/s/no_mask_train/obstacle/caf\u00e9 #1 %20.jpg", "here").endswith("%20.jpg")


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_an_in_project_link_that_points_outside_is_refused_by_every_reader(lineage, kind):
    """Issue 21 item 1: a manifest path that is (or lies under) a symbolic link leaving the project
    passed check_relative, and folder_view linked the outside file into views/."""
    secret = lineage.parent / f"secret_{kind}"
    secret.mkdir(exist_ok=True)
    (secret / "credentials.jpg").write_bytes(b"aws_secret_access_key=...")
    index = lineage / "datasets" / SITE / "src" / "index.csv"
    table = pd.read_csv(index)
    link = lineage / "data" / "recordings" / SITE / "images" / ("leak.jpg" if kind == "file" else "leak")
    link.symlink_to(secret / "credentials.jpg" if kind == "file" else secret)
    relative = link.relative_to(lineage).as_posix() + ("" if kind == "file" else "/credentials.jpg")
    assert check_relative(relative, "here") == relative, "the string alone stays inside"
    table.loc[2, "path"] = relative
    table.to_csv(index, index=False)
    with pytest.raises(
        ManifestError, match=rf"index.csv:4: path '{relative}' is a symbolic link .* leaves the project"
    ):
        folder_view.run(view_cfg(lineage, "src"))
    assert not (lineage / "views").exists()
    with pytest.raises(ManifestError, match="leaves the project"):
        check_relative(relative, "here", lineage)
    manifest = lineage / "datasets" / "demo_balanced" / "manifest.csv"
    lines = manifest.read_text().splitlines()
    lines[3] = relative + lines[3][lines[3].index(",") :]
    manifest.write_text("\n".join(lines) + "\n")
    with pytest.raises(ManifestError, match="leaves the project"):
        read_manifest(manifest, lineage)  # training and evaluation open images through it
