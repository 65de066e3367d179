"""Bad recorder output is named, skipped or fatal as configured; inputs are never modified."""

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from obstacles.io.bad_inputs import BadInputError
from obstacles.io.histograms import read_histograms
from obstacles.io.images import BadImage, decode_image, encode_jpeg, validate_image
from obstacles.lineage.names import HISTOGRAMS_NAME
from obstacles.stages import mask_train, no_mask_train, src
from tests.helpers.project import pipeline_cfg, tree_digest
from tests.helpers.recordings import stem, triplet, write_frame

SITE = "plant_202209_01"


@pytest.fixture
def messy_recording(tmp_path, rng):
    """Good frames next to one example of every kind of bad input."""
    rec = tmp_path / "data" / "recordings" / SITE
    good = [stem(i) for i in range(4)]
    for i, name in enumerate(good):
        write_frame(rec, name, [0.1, 0.5, 0.9, 0.63][i], triplet(rng, obstacle=i == 2))
    # odd but legal names come through
    write_frame(rec, "frame with spaces é_2022-09-07T09-00-00", 0.2, triplet(rng))
    data = triplet(rng)
    bad = {
        "zero_byte": (b"", 0.5, None),
        "truncated": (data[: len(data) // 2], 0.5, None),
        "not_an_image": (b"this is text, not a jpeg", 0.5, None),
        "wrong_width": (triplet(rng, panels=2)[:], 0.5, None),  # 64 px wide: not 3 equal panels
        "broken_json": (data, None, "{not json"),
        "no_field": (data, None, json.dumps({"other": 1})),
        "nan_score": (data, None, '{"dense": [NaN]}'),
        "out_of_range": (data, 1.7, None),
        "string_score": (data, None, json.dumps({"dense": ["0.5"]})),
        "image_only": (data, None, None),
    }
    for name, (image, score, payload) in bad.items():
        write_frame(rec, name, score, image, payload)
    write_frame(rec, "json_only", 0.4, None)
    (rec / "images" / "notes.txt").write_text("not an image")
    return rec, good + ["frame with spaces é_2022-09-07T09-00-00"], set(bad) | {"json_only", "notes"}


def reasons(report):
    with report.open() as handle:
        return {row["file"].rsplit("/", 1)[-1].rsplit(".", 1)[0]: row["reason"] for row in csv.DictReader(handle)}


def test_skip_keeps_every_good_image_and_names_every_bad_one(tmp_path, messy_recording, capsys):
    rec, good, bad = messy_recording
    before = tree_digest(rec)
    out = src.run(pipeline_cfg(tmp_path, SITE))
    assert tree_digest(rec) == before, "inputs must never be modified"
    with (out / "index.csv").open() as handle:
        index = {row["image"].rsplit(".", 1)[0]: row for row in csv.DictReader(handle)}
    assert set(index) == set(good)
    found = reasons(out / "bad_inputs.csv")
    assert set(found) == bad
    assert "zero-byte" in found["zero_byte"]
    assert "truncated" in found["truncated"] or "corrupt" in found["truncated"]
    assert "not an image" in found["not_an_image"]
    assert "not divisible into 3 panels" in found["wrong_width"]
    assert "malformed JSON" in found["broken_json"]
    assert "no field 'dense.0'" in found["no_field"]
    assert "finite" in found["nan_score"] and "[0, 1]" in found["out_of_range"]
    assert "not a number" in found["string_score"]
    assert found["image_only"] == "image without JSON" and found["json_only"] == "JSON without image"
    summary = capsys.readouterr().out
    assert f"{len(good)} good, {len(bad)} bad input(s) skipped" in summary


def test_fail_policy_stops_at_first_bad_file_and_leaves_no_output(tmp_path, messy_recording):
    with pytest.raises(BadInputError, match=r"bad input .*: "):
        src.run(pipeline_cfg(tmp_path, SITE, overrides=["on_bad_input=fail"]))
    assert not (tmp_path / "datasets").exists()


def test_failure_while_writing_leaves_nothing_that_looks_complete(tmp_path, rng):
    rec = tmp_path / "data" / "recordings" / SITE
    for i in range(3):
        write_frame(rec, stem(i), 0.5, triplet(rng))
    data = triplet(rng)
    write_frame(rec, stem(9), 0.5, data[: len(data) // 3])  # found only when decoded, mid-stage
    with pytest.raises(BadInputError, match="corrupt or truncated"):
        src.run(pipeline_cfg(tmp_path, SITE, overrides=["on_bad_input=fail"]))
    site_dir = tmp_path / "datasets" / SITE
    assert list(site_dir.iterdir()) == [], "neither a src/ folder nor a leftover partial one"


def test_triage_classes_and_bands(tmp_path, rng):
    rec = tmp_path / "data" / "recordings" / SITE
    scores = {0: 0.0, 1: 0.33, 2: 0.3301, 3: 0.63, 4: 0.6301, 5: 1.0, 6: 0.704}
    for i, score in scores.items():
        write_frame(rec, stem(i), score, triplet(rng))
    out = src.run(pipeline_cfg(tmp_path, SITE))
    with (out / "index.csv").open() as handle:
        placed = {row["image"]: (row["class"], row["band"]) for row in csv.DictReader(handle)}
    expected = {
        0: ("classified_no_obstacle", "no_obs_between_0.00_0.07"),
        1: ("classified_no_obstacle", "no_obs_between_0.26_0.33"),
        2: ("classified_not_decided", "not_decided_between_0.33_0.39"),
        3: ("classified_not_decided", "not_decided_between_0.57_0.63"),
        4: ("classified_obstacle", "obs_between_0.63_0.70"),
        5: ("classified_obstacle", "obs_between_0.93_1.00"),
        6: ("classified_obstacle", "obs_between_0.63_0.70"),
    }
    for i, where in expected.items():
        assert placed[f"{stem(i)}.jpg"] == where, (i, scores[i])


def test_missing_recording_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no images/ folder"):
        src.run(pipeline_cfg(tmp_path, SITE))


def corrupt_scan(data: bytes) -> bytes:
    """A JPEG whose structure is whole (header, end marker) but whose coded data the decoder
    rejects: a second frame header in the middle of the scan."""
    scan = data.rfind(b"\xff\xda")
    middle = scan + (len(data) - scan) // 2
    return data[:middle] + b"\xff\xc0\x00\x11" + data[middle + 4 :]


def stray_marker(data: bytes) -> bytes:
    """A JPEG whose structure is whole but whose coded data breaks off at a restart marker that
    does not belong there: Pillow and OpenCV fill the rest with grey and only warn."""
    scan = data.rfind(b"\xff\xda")
    middle = scan + (len(data) - scan) // 2
    return data[:middle] + b"\xff\xd3" + data[middle + 2 :]


@pytest.mark.parametrize("corrupt", [corrupt_scan, stray_marker])
def test_decoder_refuses_corrupt_scan_data_that_passes_the_structure_check(rng, corrupt):
    data = corrupt(triplet(rng, obstacle=True))
    assert validate_image(data, 3) == (96, 32), "structure is whole: triage passes it on"
    with pytest.raises(BadImage, match="corrupt or truncated image"):
        decode_image(data)


def test_decoding_gives_rgb_for_every_accepted_format(rng):
    pixels = rng.integers(0, 256, (16, 48, 3), dtype=np.uint8)
    png, gray = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels).save(png, format="PNG")
    Image.fromarray(pixels[..., 0]).save(gray, format="JPEG", quality=95)
    assert np.array_equal(decode_image(png.getvalue()), pixels), "PNG is lossless"
    decoded_gray = decode_image(gray.getvalue())
    assert decoded_gray.shape == (16, 48, 3) and np.array_equal(decoded_gray[..., 0], decoded_gray[..., 2])
    smooth = np.repeat(np.linspace(0, 255, 48, dtype=np.uint8)[None, :, None], 16, axis=0).repeat(3, axis=2)
    roundtrip = decode_image(encode_jpeg(smooth, 95)).astype(int)
    assert roundtrip.shape == smooth.shape and np.abs(roundtrip - smooth).mean() < 2, "RGB order kept, q95"
    assert decode_image(encode_jpeg(smooth, 95)).flags.writeable


@pytest.mark.parametrize("policy", ["skip", "fail"])
def test_image_the_decoder_rejects_is_named_where_pixels_are_decoded(tmp_path, rng, policy):
    rec = tmp_path / "data" / "recordings" / SITE
    for i in range(3):
        write_frame(rec, stem(i), 0.9, triplet(rng, obstacle=True))
    write_frame(rec, stem(3), 0.9, corrupt_scan(triplet(rng, obstacle=True)))
    (tmp_path / "labels").mkdir()
    rows = "".join(f"{stem(i)}.jpg,obstacle,\n" for i in range(4))
    (tmp_path / "labels" / f"{SITE}.csv").write_text("image,label,opposite_label\n" + rows)
    cfg = pipeline_cfg(tmp_path, SITE, overrides=[f"on_bad_input={policy}"])
    before = tree_digest(rec)
    src.run(cfg)  # structure is whole: triage passes it on, no_mask_train decodes it
    mask_train.run(cfg)
    site_dir = tmp_path / "datasets" / SITE
    if policy == "fail":
        with pytest.raises(BadInputError, match=rf"{stem(3)}\.jpg: corrupt or truncated image"):
            no_mask_train.run(cfg)
        assert not (site_dir / "no_mask_train").exists()
        assert [p.name for p in site_dir.iterdir() if p.name.startswith(".")] == [], "no partial output left"
    else:
        out = no_mask_train.run(cfg)
        assert "corrupt or truncated" in reasons(out / "bad_inputs.csv")[stem(3)]
        assert sorted(p.stem for p in (out / "obstacle").iterdir()) == [stem(i) for i in range(3)]
        assert list(read_histograms(out / HISTOGRAMS_NAME)["image"]) == [f"{stem(i)}.jpg" for i in range(3)]
    assert tree_digest(rec) == before, "inputs must never be modified"


def claimed_size(data: bytes, width: int, height: int) -> bytes:
    """The same JPEG bytes with a start-of-frame header claiming another size (an image bomb's trick)."""
    start = data.index(b"\xff\xc0") + 5  # marker, length (2), precision (1), then height and width
    return data[:start] + height.to_bytes(2, "big") + width.to_bytes(2, "big") + data[start + 4 :]


def test_image_bombs_and_odd_panels_are_refused_from_the_header_by_triage(tmp_path, rng):
    """Issue 21 item 3: a tiny JPEG claiming 60000x30000 passed triage (then cost GBs to decode);
    panels that are not square (600x201) or one pixel wide (a 3x1 image) passed silently."""
    rec = tmp_path / "data" / "recordings" / SITE
    good = [stem(i) for i in range(3)]
    for name in good:
        write_frame(rec, name, 0.9, triplet(rng))
    small = encode_jpeg(np.zeros((16, 48, 3), dtype=np.uint8), 95)
    hostile = {
        "bomb_wide": claimed_size(small, 60000, 30000),
        "bomb_square_panels": claimed_size(small, 3 * 20000, 20000),
        "not_square": encode_jpeg(rng.integers(0, 256, (201, 600, 3), dtype=np.uint8), 95),
        "one_pixel_panels": encode_jpeg(rng.integers(0, 256, (1, 3, 3), dtype=np.uint8), 95),
    }
    for name, data in hostile.items():
        write_frame(rec, name, 0.9, data)
    assert len(hostile["bomb_wide"]) < 1000
    assert validate_image(hostile["bomb_wide"], 1) == (60000, 30000), "the header alone passes (no limits)"
    out = src.run(pipeline_cfg(tmp_path, SITE))
    found = reasons(out / "bad_inputs.csv")
    assert set(found) == set(hostile)
    assert "header claims 60000x30000 = 1800000000 pixels, over the limit of" in found["bomb_wide"]
    assert "recording.max_pixels" in found["bomb_square_panels"]
    assert found["not_square"] == "panels are 200x201 (600x201 in 3), not square"
    assert "under recording.min_panel_px" in found["one_pixel_panels"]
    with (out / "index.csv").open() as handle:
        assert [row["image"] for row in csv.DictReader(handle)] == [f"{name}.jpg" for name in good]
    with pytest.raises(BadImage, match="over the limit of 1000"):
        decode_image(hostile["bomb_wide"], max_pixels=1000)  # refused before a pixel is decoded


def test_an_image_too_large_to_decode_is_named_not_a_crash(tmp_path, rng, monkeypatch):
    def out_of_memory(data):
        raise MemoryError("Unable to allocate 10.1 GiB for an array with shape (60000, 60000, 3)")

    monkeypatch.setattr(no_mask_train, "decode_image", out_of_memory)
    source = tmp_path / "bomb.jpg"
    source.write_bytes(triplet(rng))
    result = no_mask_train.Unmask(3, 95, str(tmp_path))((str(source), [("obstacle", "bomb.jpg", False, "")]))
    assert result.startswith("too large to decode (MemoryError: Unable to allocate 10.1 GiB")
