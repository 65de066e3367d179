"""atomic_dir under concurrency: writers finishing the same output at once, and writers that died."""

from __future__ import annotations

import multiprocessing
import os
import signal
import tempfile
import time
from pathlib import Path

import pytest

from obstacles.io.outputs import atomic_dir

FILES = 150  # enough that deleting an output takes a while: the old swap raced in that window
WRITERS = 4
CTX = multiprocessing.get_context("fork")


def write_output(folder: Path, writer: str, files: int = FILES) -> None:
    for i in range(files):
        (folder / f"part_{i:03d}.txt").write_text(f"{writer}\n")
    (folder / "nested").mkdir()
    (folder / "nested" / "writer.txt").write_text(f"{writer}\n")


def assert_one_complete_output(final: Path, writers, files: int = FILES) -> str:
    contents = {p.relative_to(final).as_posix(): p.read_text() for p in final.rglob("*") if p.is_file()}
    assert set(contents) == {f"part_{i:03d}.txt" for i in range(files)} | {"nested/writer.txt"}, "complete"
    owners = set(contents.values())
    assert len(owners) == 1, f"one writer's output, not a mix: {owners}"
    owner = owners.pop().strip()
    assert owner in writers
    return owner


def leftovers(final: Path) -> list[str]:
    return sorted(p.name for p in final.parent.iterdir() if p.name.startswith(f".{final.name}."))


def finisher(final: str, writer: str, barrier, errors) -> None:
    try:
        with atomic_dir(final) as out:
            write_output(out, writer)
            barrier.wait(timeout=60)  # every writer leaves the block, and swaps, at the same moment
    except BaseException as error:  # noqa: BLE001 - reported to the test
        errors.put(f"{writer}: {type(error).__name__}: {error}")
        raise SystemExit(1)


def test_writers_finishing_the_same_output_at_once_all_succeed(tmp_path):
    final = tmp_path / "datasets" / "site" / "no_mask_train"
    with atomic_dir(final) as out:  # a previous output, which every finisher wants to replace
        write_output(out, "previous")
    for trial in range(6):
        writers = [f"trial{trial}-writer{w}" for w in range(WRITERS)]
        barrier, errors = CTX.Barrier(WRITERS), CTX.Queue()
        processes = [CTX.Process(target=finisher, args=(str(final), w, barrier, errors)) for w in writers]
        for process in processes:
            process.start()
        for process in processes:
            process.join(timeout=120)
        failures = []
        while not errors.empty():
            failures.append(errors.get())
        assert not failures and all(p.exitcode == 0 for p in processes), f"trial {trial}: {failures}"
        assert_one_complete_output(final, writers)
        assert leftovers(final) == [], f"trial {trial}: nothing partial left"


def killed_writer(final: str, ready) -> None:
    with atomic_dir(final) as out:
        write_output(out, "killed", files=3)
        ready.set()
        time.sleep(600)  # SIGKILLed here, mid-write


def live_writer(final: str, ready, finish) -> None:
    with atomic_dir(final) as out:
        write_output(out, "live", files=3)
        ready.set()
        finish.wait(timeout=120)
        (out / "written_after_the_other_run.txt").write_text("still mine\n")


def partials(final: Path) -> set[str]:
    return {name for name in leftovers(final) if name.endswith(".partial")}


def test_next_run_removes_a_dead_writers_partial_and_keeps_a_live_writers(tmp_path):
    final = tmp_path / "datasets" / "site" / "no_mask_train"
    final.parent.mkdir(parents=True)
    ready = CTX.Event()
    killed = CTX.Process(target=killed_writer, args=(str(final), ready))
    killed.start()
    assert ready.wait(60)
    dead = partials(final)
    assert len(dead) == 1
    os.kill(killed.pid, signal.SIGKILL)
    killed.join(30)
    assert partials(final) == dead, "a killed writer leaves its partial folder"
    # one left by a writer from before the locks (same name shape, nobody holds it), another
    # output's own partial beside it, and this output's folder from a writer gone between mkdir and lock
    legacy = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    (legacy / "9MB.jpg").write_bytes(b"x" * 1000)
    other = Path(tempfile.mkdtemp(prefix=".mask_train.", suffix=".partial", dir=final.parent))
    starting = final.parent / f".{final.name}.abcd1234.partial-new"
    starting.mkdir()
    os.utime(starting, (time.time() - 7200, time.time() - 7200))

    ready, finish = CTX.Event(), CTX.Event()
    live = CTX.Process(target=live_writer, args=(str(final), ready, finish))
    live.start()
    try:
        assert ready.wait(60)
        live_partial = partials(final) - dead - {legacy.name}
        assert len(live_partial) == 1
        with atomic_dir(final) as out:
            write_output(out, "this run", files=3)
            assert partials(final) == live_partial | {out.name}, "dead writers' partials are gone"
        assert not starting.exists() and not legacy.exists()
        assert other.exists(), "another output's partial is not this run's business"
        assert (final.parent / live_partial.pop() / "nested" / "writer.txt").read_text() == "live\n", "kept whole"
        assert_one_complete_output(final, ["this run"], files=3)
    finally:
        finish.set()
        live.join(60)
    assert live.exitcode == 0, "the live writer finishes undisturbed"
    assert (final / "written_after_the_other_run.txt").exists()
    assert leftovers(final) == []


def test_failing_block_keeps_the_previous_output_and_leaves_nothing(tmp_path):
    final = tmp_path / "out"
    with atomic_dir(final) as out:
        write_output(out, "first", files=2)
    with pytest.raises(RuntimeError), atomic_dir(final) as out:
        write_output(out, "second", files=2)
        raise RuntimeError("stage failed")
    assert_one_complete_output(final, ["first"], files=2)
    assert leftovers(final) == []


def test_output_replaces_a_file_or_an_empty_folder_of_the_same_name(tmp_path):
    for previous in ("file", "empty folder"):
        final = tmp_path / previous.replace(" ", "_")
        final.write_text("old\n") if previous == "file" else final.mkdir()
        with atomic_dir(final) as out:
            write_output(out, "new", files=2)
        assert_one_complete_output(final, ["new"], files=2)
        assert leftovers(final) == []


def test_break_links_gives_a_linked_file_its_own_bytes_and_leaves_the_other_name_alone(tmp_path):
    from obstacles.io.outputs import break_links

    cache, run = tmp_path / "cache", tmp_path / "run" / "checkpoints"
    cache.mkdir()
    run.mkdir(parents=True)
    (cache / "object").write_bytes(b"cached checkpoint")
    os.chmod(cache / "object", 0o444)  # as DVC leaves a linked file
    os.link(cache / "object", run / "last.ckpt")
    (run / "own.txt").write_text("not linked")
    assert break_links(tmp_path / "run") == [run / "last.ckpt"]
    assert os.stat(run / "last.ckpt").st_nlink == 1 and (run / "last.ckpt").read_bytes() == b"cached checkpoint"
    with open(run / "last.ckpt", "wb") as handle:  # what a resumed run does to its last.ckpt
        handle.write(b"epoch 2")
    assert (cache / "object").read_bytes() == b"cached checkpoint", "the cache's bytes are untouched"
    assert break_links(tmp_path / "run") == []


def test_json_values_and_strict_json_files(tmp_path):
    import json

    import numpy as np

    from obstacles.io.outputs import json_value, write_json

    assert json_value(np.float64("nan")) is None and json_value(float("nan")) is None
    assert json_value(np.int64(3)) == 3 and type(json_value(np.int64(3))) is int
    assert json_value("a") == "a" and json_value(None) is None
    path = write_json(tmp_path / "x.json", {"a": json_value(np.float32(0.5))})
    assert json.loads(path.read_text()) == {"a": 0.5} and path.read_text().endswith("\n")
    with pytest.raises(ValueError):
        write_json(tmp_path / "nan.json", {"a": float("nan")})
    assert not (tmp_path / "nan.json").exists(), "a refused payload leaves no file"
