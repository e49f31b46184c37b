"""Bulk grading against hostile and malformed submissions (issue 10), class by class.

1. One submission never costs anyone else their grade (the batch always finishes, processes
   a notebook starts end with it).
2. The grader reads only what it means to read, within bounds.
3. Scores count only the assignment.
4. Forged numbers earn nothing.
5. Outputs cannot collide or be injected.

Kernel-free tests build crafted files in tmp_path and call the grader's layers directly.
The kernel batches (module fixtures) run `python -m checker grade` once each, in a
subprocess, on crafted notebooks; each test then reads its student's report.
"""
from __future__ import annotations

import base64
import csv
import json
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import zipfile

import pytest
import torch
from lesson01_submissions import IDS, MASTER, NAME, ROOT, answer_index, answered, cell, write_nb

import checker
from checker.grading import batch, cli, exports, probe, processes, replay, submissions
from checker.lessons.catalog import LESSONS, all_exercises, exercises, find

MASTER02 = ROOT / "notebooks" / "master" / "02_autograd.ipynb"
WRONG = {"dy_dx": "def dy_dx(x):\n    return x\n", "dz_dx": "def dz_dx(x):\n    return math.cos(x**2)\n",
         "dg_dx": "def dg_dx(x):\n    return math.cos(x)\n"}
LINUX = sys.platform.startswith("linux")


# -- building notebooks ------------------------------------------------------------------------
def append(nb: dict, *sources) -> dict:
    nb["cells"] += [cell(s) for s in sources]
    return nb


def insert_first(nb: dict, source: str) -> dict:
    nb["cells"].insert(answer_index(nb, "dy_dx"), cell(source))
    return nb


def empty_nb() -> dict:
    return {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def rows(path: pathlib.Path) -> dict:
    with open(path, newline="") as f:
        return {row["student"]: row for row in csv.DictReader(f)}


def loaded(path) -> submissions.Submission:
    sub = submissions.discover([str(path)])[0]
    return submissions.load(sub)


def corrupt_member(path: pathlib.Path, member: str) -> None:
    """Flip bytes in the middle of one member's compressed data."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 20, start + 60):
        data[i] ^= 0xA5
    path.write_bytes(bytes(data))


def alive_with(marker: str) -> list[int]:
    """Processes whose command line holds marker."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if marker.encode() in pathlib.Path(f"/proc/{name}/cmdline").read_bytes():
                    found.append(int(name))
            except OSError:
                pass
    return found


# == 1. one submission never costs another its grade (kernel-free part) ========================
def test_a_zip_with_two_notebooks_is_read_whole(tmp_path):
    archive = tmp_path / "ana.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ana/01_derivatives.ipynb", json.dumps(answered()))
        z.writestr("ana/01_derivatives (copy).ipynb", json.dumps(answered(**WRONG)))
        z.writestr("ana/notes.txt", "hello")
    sub = loaded(archive)
    assert sub.problem is None
    assert [nb.name for nb in sub.notebooks] == ["ana/01_derivatives (copy).ipynb", "ana/01_derivatives.ipynb"]


def test_a_corrupt_zip_member_costs_only_itself(tmp_path):
    archive = tmp_path / "bo.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("bo/01_derivatives.ipynb", json.dumps(answered()))
        z.writestr("bo/02_autograd.ipynb", json.dumps(answered()) * 3)
    corrupt_member(archive, "bo/02_autograd.ipynb")
    sub = loaded(archive)
    assert sub.problem is None
    good, bad = sub.notebooks
    assert good.problem is None and json.loads(good.text)["cells"]
    assert "could not be read from the zip" in bad.problem


def test_a_corrupt_zip_directory_is_a_problem_of_that_submission(tmp_path):
    archive = tmp_path / "cy.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\xff" * 40)
    assert "could not read cy.zip" in loaded(archive).problem


@pytest.mark.parametrize("source", [42, {"a": 1}, [1, 2], None, ["ok", 3]])
def test_a_cell_whose_source_is_not_text_is_left_out_and_reported(source):
    nb = append(answered(), source)
    parsed = submissions.parse(submissions.NotebookFile(NAME, json.dumps(nb)), ("lesson01",))
    assert parsed.problem is None
    assert all(isinstance(c["source"], str) for c in parsed.cells)
    assert any("not text" in n for n in parsed.notes)


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"cells": ' + "[" * 50_000 + "]" * 50_000 + "}",
                                  '{"cells": [' + '{"a":' * 30_000 + "1" + "}" * 30_000 + "]}"])
def test_deeply_nested_json_is_a_reason_not_a_crash(text):
    parsed = submissions.parse(submissions.NotebookFile(NAME, text), ("lesson01",))
    assert parsed.problem is not None and parsed.cells == []


def test_cells_of_the_wrong_shape_are_skipped():
    nb = answered()
    nb["cells"] += [5, "text", None, {"cell_type": "code"}, {"cell_type": "code", "source": "x = 1",
                                                             "metadata": {"tags": [1, None, "ok"]}}]
    parsed = submissions.parse(submissions.NotebookFile(NAME, json.dumps(nb)), ("lesson01",))
    assert parsed.problem is None
    assert parsed.cells[-1] == {"source": "x = 1", "tags": ["ok"], "number": len(nb["cells"])}


def test_a_batch_of_broken_submissions_always_ends_with_a_complete_gradebook(tmp_path):
    subs = tmp_path / "subs"
    cases = {
        "nested": "[" * 200_000,
        "not_utf8": b"\xff\xfe{\x00",
        "int_source": json.dumps({"cells": [{"cell_type": "code", "source": 1}], "metadata": {}}),
        "list_top": "[]",
        "empty": json.dumps(empty_nb()),
    }
    for name, text in cases.items():
        path = subs / name / NAME
        path.parent.mkdir(parents=True)
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
    archive = subs / "zipped.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("z/01_derivatives.ipynb", "x" * 5000)
        z.writestr("z/01_derivatives (2).ipynb", "y" * 5000)
    corrupt_member(archive, "z/01_derivatives.ipynb")
    (subs / "garbage.zip").write_bytes(os.urandom(3000))
    paths = sorted(str(p) for p in subs.iterdir())
    out = tmp_path / "out"
    assert cli.main(["grade", *paths, "--lesson", "lesson01", "--out", str(out), "--quiet"]) == 0
    got = rows(out / "grades.csv")
    assert set(got) == set(cases) | {"zipped", "garbage"}
    assert all(row["total"] == "0" and row["max"] == "3" for row in got.values())


# == 1. processes end with their notebook (no kernel needed) ===================================
SPAWNER = textwrap.dedent("""
    import os, subprocess, sys, time
    marker = sys.argv[1]
    # a child in a new session (out of our process group), and a double-forked daemon
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)", marker], start_new_session=True)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(300)", marker])
        os._exit(0)
    print("ready", flush=True)
    time.sleep(300)
""")


@pytest.mark.skipif(not LINUX, reason="Linux process tree")
def test_kill_tree_ends_processes_that_left_the_session(tmp_path):
    marker = f"checker-test-{os.getpid()}-{time.monotonic_ns()}"
    script = tmp_path / "spawner.py"
    script.write_text(SPAWNER)
    code = ("import sys, subprocess; from checker.grading import processes; processes.set_subreaper(True); "
            f"p = subprocess.Popen([sys.executable, {str(script)!r}, {marker!r}], stdout=subprocess.PIPE); "
            "p.stdout.readline(); import time; time.sleep(0.5); p.kill(); p.wait(); "  # the spawner dies first
            "print(processes.kill_tree(__import__('os').getpid())); "
            "processes.reap(processes.children(__import__('os').getpid()))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) >= 2  # the orphans were adopted, found and killed
    time.sleep(0.2)
    assert alive_with(marker) == []


@pytest.mark.skipif(not LINUX, reason="Linux process tree")
def test_kill_orphans_keeps_the_children_it_is_told_to_keep(tmp_path):
    keep = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        assert processes.kill_orphans({keep.pid}) >= 1
        assert other.wait(timeout=10) is not None
        assert keep.poll() is None
    finally:
        keep.kill()
        keep.wait()


# == 2. reads within bounds ========================================================================
def test_symlinks_in_a_folder_are_skipped_and_reported(tmp_path):
    victim = tmp_path / "victim"
    write_nb(victim / NAME, answered())
    thief = tmp_path / "thief"
    thief.mkdir()
    (thief / NAME).symlink_to(victim / NAME)
    (thief / "sub").symlink_to(victim, target_is_directory=True)
    (thief / "02_autograd.ipynb").symlink_to("/etc/passwd")
    sub = loaded(thief)
    assert sub.notebooks == [] and sub.problem == "no notebook (.ipynb) in the submission"
    assert "symbolic link" in " ".join(sub.notes) and "01_derivatives.ipynb" in " ".join(sub.notes)


def test_a_top_level_link_or_special_file_is_not_followed(tmp_path):
    write_nb(tmp_path / "real" / NAME, answered())
    (tmp_path / "link").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "link.ipynb").symlink_to(tmp_path / "real" / NAME)
    assert "symbolic link" in loaded(tmp_path / "link").problem
    assert "symbolic link" in loaded(tmp_path / "link.ipynb").problem
    assert "a device" in loaded("/dev/zero").problem


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="FIFOs")
def test_fifos_never_block_the_grader(tmp_path):
    folder = tmp_path / "fifo_student"
    folder.mkdir()
    os.mkfifo(folder / NAME)
    os.mkfifo(tmp_path / "top.ipynb")
    os.mkfifo(tmp_path / "top.zip")
    got = {}

    def read_all():
        got["folder"] = loaded(folder)
        got["top"] = loaded(tmp_path / "top.ipynb")
        got["zip"] = loaded(tmp_path / "top.zip")

    reader = threading.Thread(target=read_all, daemon=True)
    reader.start()
    reader.join(timeout=60)
    assert not reader.is_alive(), "reading a FIFO blocked the grader"
    assert "FIFO" in " ".join(got["folder"].notes)
    assert "FIFO" in got["top"].problem and "FIFO" in got["zip"].problem


def test_a_unix_socket_in_a_folder_is_skipped(tmp_path):
    folder = tmp_path / "s"
    folder.mkdir()
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(folder / NAME))
        assert "socket" in " ".join(loaded(folder).notes)
    finally:
        server.close()


def test_sizes_are_checked_before_reading(tmp_path):
    big = tmp_path / "big" / NAME
    big.parent.mkdir()
    with open(big, "wb") as f:  # sparse: huge on paper, nothing on disk
        f.truncate(10 * submissions.MAX_NOTEBOOK_BYTES)
    sub = loaded(big.parent)
    assert "over the grader's limit" in sub.notebooks[0].problem and sub.notebooks[0].text is None
    huge_zip = tmp_path / "huge.zip"
    with open(huge_zip, "wb") as f:
        f.truncate(2 * submissions.MAX_ZIP_BYTES)
    assert "over the grader's limit" in loaded(huge_zip).problem


def test_a_zip_member_larger_than_the_limit_is_not_inflated(tmp_path):
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("b/01_derivatives.ipynb", b"\0" * (submissions.MAX_NOTEBOOK_BYTES + 10))
    sub = loaded(archive)
    assert "over the grader's limit" in sub.notebooks[0].problem


def test_zip_members_that_are_links_are_skipped(tmp_path):
    archive = tmp_path / "zl.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("zl/01_derivatives.ipynb")
        info.create_system = 3
        info.external_attr = (0o120777 << 16)  # a symbolic link member, target as its content
        z.writestr(info, "../../victim/01_derivatives.ipynb")
    sub = loaded(archive)
    assert sub.notebooks == [] and "symbolic link" in " ".join(sub.notes)


def test_folder_entries_per_submission_are_capped(tmp_path):
    folder = tmp_path / "crowded"
    folder.mkdir()
    for i in range(submissions.MAX_ENTRIES + 10):
        (folder / f"f{i:05d}.txt").touch()
    write_nb(folder / "zz" / NAME, empty_nb())  # listed after them: never reached
    sub = loaded(folder)
    assert sub.notebooks == [] and any(f"first {submissions.MAX_ENTRIES} entries" in n for n in sub.notes)


def test_notebooks_and_entries_per_submission_are_capped(tmp_path):
    folder = tmp_path / "many"
    for i in range(submissions.MAX_NOTEBOOKS + 5):
        write_nb(folder / f"01_derivatives_{i:02d}.ipynb", empty_nb())
    sub = loaded(folder)
    assert len(sub.notebooks) == submissions.MAX_NOTEBOOKS
    assert any("only the first" in n for n in sub.notes)
    deep = tmp_path / "deep"
    path = deep
    for i in range(submissions.MAX_FOLDER_DEPTH + 3):
        path = path / f"d{i}"
    write_nb(path / NAME, empty_nb())
    assert loaded(deep).notebooks == []


def _budget_attack_raw(kind: str) -> dict:
    """A worker result carrying what a forged probe could send back for every exercise."""
    if kind == "huge-list":  # many cheap records each claiming a long list
        call = {"t": "list", "n": 100_000, "v": []}
    elif kind == "numpy-subarray":  # a dtype that allocates (10**8,) floats per element
        call = {"t": "numpy", "dtype": "(100000000,)f8", "shape": [], "array": False}
    elif kind == "zeros":  # values "too large to send": a million zeros per call
        call = {"t": "tensor", "dtype": "float64", "shape": [1000, 1000]}
    elif kind == "deep":
        call = {"t": "list", "n": 1, "v": []}
        for _ in range(5000):
            call = {"t": "list", "n": 1, "v": [call]}
    else:
        raise ValueError(kind)
    answer = {"callable": True, "name": "f", "signature": None, "calls": [call] * 40}
    return {"answers": {ex.id: answer for ex in exercises("lesson01")}, "errors": [], "timed_out": [], "died": [],
            "skipped_from": None, "deadline_hit": False, "output_bytes": 0, "failures": [], "probe_done": True}


@pytest.mark.parametrize("kind", ["huge-list", "numpy-subarray", "zeros", "deep"])
def test_decoding_one_notebook_stays_within_one_budget(kind):
    # In a fresh process: how much the grader's memory grows while judging the forged answers.
    code = textwrap.dedent(f"""
        import json, resource, sys
        sys.path.insert(0, "tests")  # the test helpers' own imports (lesson01_submissions), as under pytest
        from checker.grading import batch
        from tests.test_grading_attacks import _budget_attack_raw
        raw = _budget_attack_raw({kind!r})
        batch.judge_notebook("lesson01", raw, None, 300.0)  # warm up: imports, references
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        for _ in range(3):
            results = batch.judge_notebook("lesson01", raw, None, 300.0)
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
        print(json.dumps({{"grown_kb": grown, "statuses": [r.status for r in results],
                          "scores": [r.score for r in results]}}))
    """)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["scores"] == [0, 0, 0] and set(got["statuses"]) <= {"error", "incorrect"}
    assert got["grown_kb"] < 60_000, got  # the issue saw ~250 MB per route


def test_only_plain_numeric_dtypes_are_rebuilt():
    budget = replay.Budget()
    for dtype in ("object", "V8", "U10", "(3,)f8", "datetime64[s]", "O", "S5"):
        with pytest.raises(replay.Unreadable):
            replay.decode({"t": "numpy", "dtype": dtype, "shape": [], "v": 0}, budget)
    for dtype in ("qint8", "complex32", "torch.float64"):
        with pytest.raises(replay.Unreadable):
            replay.decode({"t": "tensor", "dtype": dtype, "shape": [1], "v": [0]}, budget)
    assert replay.decode({"t": "tensor", "dtype": "float32", "shape": [2], "v": [1.5, 2]}, budget).tolist() == [1.5, 2]
    value = replay.decode({"t": "tensor", "dtype": "complex64", "shape": [3]}, budget)
    assert value.is_complex() and value.shape == (3,)
    # float8: its dtype and shape only, whatever values come with it (the judge refuses float8 by dtype)
    value = replay.decode({"t": "tensor", "dtype": "float8_e4m3fn", "shape": [2], "v": [1e30, "x"]}, budget)
    assert value.dtype == torch.float8_e4m3fn and value.shape == (2,) and value.stride() == (0,)


@pytest.mark.parametrize("record", [
    {"t": "tensor", "dtype": "float64", "shape": [3], "v": [1.0, 2.0]},  # fewer values than the shape
    {"t": "tensor", "dtype": "float64", "shape": [-1]},
    {"t": "tensor", "dtype": "float64", "shape": [2.5]},
    {"t": "int", "v": 10**30},
    {"t": "float", "v": "1e400"},
    {"t": "list", "n": 1, "v": {"a": 1}},
    {"t": "nonsense"},
])
def test_malformed_records_are_unreadable_not_crashes(record):
    with pytest.raises(replay.Unreadable):
        replay.decode(record, replay.Budget())


def test_the_channel_reads_only_after_the_probe_starts_and_within_its_cap():
    channel = probe.Channel(limit=10_000)
    try:
        os.write(channel.write_fd, b'{"nonce": "n1", "id": "early", "started": true}\n')
        time.sleep(0.3)
        channel.expect("n1")
        os.write(channel.write_fd, b'{"nonce": "n1", "id": "a", "started": true}\n{"nonce": "x", "id": "b", '
                                   b'"started": true}\nnot json\n{"nonce": "n1", "id": "a", "answer": {"missing": '
                                   b'true}}\n{"nonce": "n1", "id": "a", "answer": {"missing": false}}\n')
        os.write(channel.write_fd, b'{"nonce": "n1", "done": true, "pad": "' + b"x" * 20_000 + b'"}\n')
        channel.drain()
        records, _ = channel.snapshot()
        answers, started, done = probe.read_records(records)
        assert started == ["a"] and answers == {"a": {"missing": True}}  # the first answer counts
        assert not done and channel.overflow and channel.received == 10_000
    finally:
        channel.close()


# == 3. scores count only the assignment =============================================================
def test_the_lesson_is_required(tmp_path, capsys):
    write_nb(tmp_path / "s" / NAME, answered())
    assert cli.main(["grade", str(tmp_path / "s"), "--out", str(tmp_path / "o"), "--quiet"]) == 2
    assert "--lesson is required" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
    assert cli.main(["classroom", str(tmp_path / "s"), "--out", str(tmp_path / "o")]) == 2
    assert cli.main(["grade", str(tmp_path / "s"), "--lesson", "lesson99", "--out", str(tmp_path / "o")]) == 2
    results = tmp_path / "gs" / "results.json"
    assert cli.main(["gradescope", "--submission", str(tmp_path / "s"), "--results", str(results)]) == 2
    data = json.loads(results.read_text())
    assert data["score"] == 0 and "--lesson is required" in data["output"]


def test_lesson_lists():
    assert batch.parse_lessons("1") == ("lesson01",)
    assert batch.parse_lessons("lesson02, 03,lesson02") == ("lesson02", "lesson03")
    assert batch.parse_lessons("all") == LESSONS
    for bad in ("", None, "lesson", "09", "lesson01;rm"):
        with pytest.raises(ValueError):
            batch.parse_lessons(bad)


def test_the_maximum_is_the_assignments_whatever_was_submitted():
    sub = submissions.Submission("s", "s")
    report = batch.build_report(sub, [], ("lesson01",))
    assert report["max_score"] == 3 and report["score"] == 0
    ex02 = exercises("lesson02")
    results = [checker.grade(ex, ex.solution_fn) for ex in ex02]
    extra = batch._notebook_entry("02_autograd.ipynb", "lesson02", results, [], 1.0, True)
    report = batch.build_report(sub, [extra], ("lesson01",))
    assert report["score"] == 0 and report["max_score"] == 3 and not report["notebooks"][0]["used"]
    assert {r["exercise_id"] for r in report["results"]} == set(IDS)
    both = batch.build_report(sub, [extra], ("lesson01", "lesson02"))
    assert both["score"] == len(ex02) and both["max_score"] == 3 + len(ex02)


def test_a_notebook_of_another_lesson_is_not_run():
    nb = json.loads(MASTER02.read_text())
    parsed = submissions.parse(submissions.NotebookFile("02_autograd.ipynb", json.dumps(nb)), ("lesson01",), LESSONS)
    assert parsed.problem == "this notebook is from lesson02, not lesson01, the lesson being graded"
    assert parsed.cells == []
    nameless = submissions.parse(submissions.NotebookFile("mine.ipynb", json.dumps(answered() | {"metadata": {}})),
                                 ("lesson01", "lesson02"))
    assert "cannot tell which lesson" in nameless.problem


def _code(function):
    """What a function computes, as far as its code says: bytecode, constants and the names it uses
    (bytecode alone is the same for `torch.sin(x)` and `torch.exp(x)`)."""
    code = getattr(function, "__code__", None)
    return None if code is None else (code.co_code, code.co_consts, code.co_names)


@pytest.mark.parametrize("target", [ex for ex in all_exercises() if ex.kind != "value"], ids=lambda ex: ex.id)
def test_no_answer_to_another_lessons_exercise_passes_this_one(target):
    """Acceptance sets of exercises in different lessons are disjoint: either the quantities differ
    (so one function cannot be right for both), or one exercise forbids autograd and the other
    requires it. Checked here with every other lesson's reference solution."""
    for ex in all_exercises():
        if ex.lesson == target.lesson or ex.kind == "value":
            continue
        assert not checker.grade(target, ex.solution_fn).passed, f"{ex.id}'s solution passes {target.id}"
        same_quantity = _code(ex.function) is not None and (len(ex.inputs), ex.pass_as, _code(ex.function)) == (
            len(target.inputs), target.pass_as, _code(target.function))
        if same_quantity:
            assert {ex.forbid_autograd, target.forbid_autograd} == {True, False}
            assert ex.require_autograd or target.require_autograd


def test_a_lesson01_answer_is_not_a_fix_of_lesson02s_autograd_code():
    from checker import lesson01, lesson02

    for l1, l2 in ((lesson01.dg_dx, lesson02.fix_leaf), (lesson01.dz_dx, lesson02.fix_zeroing)):
        result = checker.grade(l2, l1.solution_fn)
        assert result.status == "incorrect" and result.mistake == "not-by-autograd"
        assert "autograd did not compute them" in result.message
        as_tensor = checker.grade(l2, lambda x, f=l1.solution_fn: torch.tensor(f(x)))  # by hand, as a tensor
        assert as_tensor.mistake == "not-by-autograd"
        assert checker.grade(l2, l2.solution_fn).passed
        assert checker.grade(l1, l2.solution_fn).mistake == "used-autograd"


# == 4. forged numbers earn nothing (kernel-free part) ============================================
def _raw_answer(ex, values) -> dict:
    return {"callable": True, "name": ex.answer_name, "signature": None,
            "calls": [{"t": "float", "v": float(v)} for v in values]}


def test_extra_points_come_from_the_runs_secret():
    ex = find("lesson01.dz_dx")
    a, b = replay.hidden_exercise(ex, b"one"), replay.hidden_exercise(ex, b"two")
    assert a.points == replay.hidden_exercise(ex, b"one").points  # same secret, same points
    assert a.points != b.points and len(a.points) == replay.N_HIDDEN
    assert not set(a.points) & set(checker.engine.judge.sample_points(ex))
    lo, hi = ex.domain["x"]
    assert all(lo <= p[0] <= hi for p in a.points)
    assert replay.hidden_exercise(find("lesson02.two_backward"), b"one") is None
    for ex in all_exercises():  # every exercise can be hidden-checked, samplers included
        hidden = replay.hidden_exercise(ex, b"s")
        assert ex.kind == "value" or len(checker.engine.judge.sampled_reference(hidden).valid) >= replay.N_HIDDEN // 2


def test_a_table_of_the_public_points_fails_at_the_secret_ones():
    ex = find("lesson01.dz_dx")
    hidden = replay.hidden_exercise(ex, b"secret")
    public = checker.engine.judge.sampled_reference(ex).expected[0].tolist()
    table = _raw_answer(ex, public + [0.0] * replay.N_HIDDEN)  # right where it was told, 0 elsewhere
    result = replay.judge(ex, table, "missing", hidden=hidden)
    assert result.status == "incorrect" and result.score == 0
    assert f"not at {replay.N_HIDDEN} further points drawn for this grading run" in result.message
    honest = [2 * p[0] * math_cos(p[0] ** 2) for p in checker.engine.judge.sample_points(ex)
              + list(hidden.points)]
    result = replay.judge(ex, _raw_answer(ex, honest), "missing", hidden=hidden)
    assert result.passed
    assert result.message == checker.grade(ex, lambda x: 2 * x * math_cos(x**2)).message  # as in the notebook


def test_a_right_answer_gets_the_same_result_whatever_the_secret():
    import math

    ex = find("lesson01.dg_dx")
    got = set()
    for secret in (b"a", b"b", b"c"):
        hidden = replay.hidden_exercise(ex, secret)
        xs = [p[0] for p in checker.engine.judge.sample_points(ex) + list(hidden.points)]
        answer = _raw_answer(ex, [math.sin(x) + x * math.cos(x) for x in xs])
        got.add(json.dumps(replay.judge(ex, answer, "missing", hidden=hidden).to_dict(), sort_keys=True))
    assert len(got) == 1 and json.loads(got.pop())["status"] == "correct"


def math_cos(x):
    import math

    return math.cos(x)


def test_a_forged_autograd_flag_is_all_a_replay_can_claim():
    from checker import lesson02

    ex = lesson02.fix_zeroing
    points = [p[0] for p in checker.engine.judge.sample_points(ex)]
    values = [2 * x * math_cos(x**2) for x in points]
    no_flags = _raw_answer(ex, values)
    assert replay.judge(ex, no_flags, "missing").mistake == "not-by-autograd"
    with_flags = dict(no_flags, autograd=[True] * len(values))
    assert replay.judge(ex, with_flags, "missing").passed


# == 5. outputs that cannot collide or be injected ==================================================
def test_ids_are_unique_after_sanitising_over_all_ids():
    names = ["Ana María", "Ana_Mar_a", "ana maría", "x", "x", "x-2", "X", "..", "", "=1+2", "-rm", "@SUM(A1)"]
    ids = submissions.unique_ids(names)
    assert len({i.casefold() for i in ids}) == len(ids)
    assert all(exports.safe_name(i) == i for i in ids)
    assert ids[:7] == ["Ana_Mar_a", "Ana_Mar_a-2", "ana_mar_a-3", "x", "x-3", "x-2", "X-4"]
    assert not any(i.startswith(("=", "+", "-", "@", ".")) for i in ids)
    assert submissions.unique_ids(names) == ids  # deterministic


def test_discovery_gives_distinct_ids_and_files(tmp_path):
    names = ["Ana María", "Ana_Mar_a", "ana maría", "x", "x-2"]
    paths = []
    for i, name in enumerate(names):
        folder = tmp_path / f"batch{i}" / name
        folder.mkdir(parents=True)
        (folder / NAME).write_text("{ broken")
        paths.append(str(folder))
    paths.append(str(tmp_path / "batch9" / "x"))
    (tmp_path / "batch9" / "x").mkdir(parents=True)
    out = tmp_path / "out"
    assert cli.main(["grade", *paths, "--lesson", "01", "--out", str(out), "--quiet"]) == 0
    reports = sorted((out / "students").glob("*.json"))
    assert len(reports) == len(paths) == len(rows(out / "grades.csv"))
    assert len({json.loads(p.read_text())["source"] for p in reports}) == len(paths)
    merged = tmp_path / "merged"
    assert cli.main(["merge", str(out), str(out), "--out", str(merged)]) == 0  # the same folder twice
    assert len(rows(merged / "grades.csv")) == len(paths)


@pytest.mark.parametrize("text", ["=HYPERLINK(\"http://x\")", "+1", "-1+1", "@SUM(A1)", "\t=1", "\r=1", "%0A",
                                  "|calc"])
def test_csv_cells_are_escaped_against_formulas(text):
    assert exports.spreadsheet_text(text).startswith("'")
    assert exports.spreadsheet_text("alice") == "alice"


def test_a_forged_report_id_cannot_inject_a_formula(tmp_path):
    report = {"student": "alice", "source": "s", "status": "graded", "problem": None, "notes": [], "score": 0,
              "max_score": 0, "seconds": 0, "notebooks": [], "results": []}
    exports.write_all([report], tmp_path / "o", 0.0)
    shard = tmp_path / "o"
    forged = json.loads((shard / "students" / "alice.json").read_text())
    forged["student"] = "=cmd|' /C calc'!A0"
    (shard / "students" / "alice.json").write_text(json.dumps(forged))
    assert cli.main(["merge", str(shard), "--out", str(tmp_path / "m")]) == 0
    text = (tmp_path / "m" / "grades.csv").read_text()
    assert not any(line.startswith(("=", "+", "-", "@")) for line in text.splitlines())


def _report(student):
    return {"student": student, "source": student, "status": "graded", "problem": None, "notes": [], "score": 1,
            "max_score": 1, "seconds": 0.0, "notebooks": [], "results": []}


def test_outputs_replace_whatever_was_planted_in_the_out_folder(tmp_path):
    out = tmp_path / "out"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "keep.txt").write_text("mine")
    out.mkdir()
    (out / "grades.csv").mkdir()  # a folder where the CSV goes
    (out / "grades.csv" / "x").write_text("x")
    (out / "students").symlink_to(victim, target_is_directory=True)  # reports redirected elsewhere
    if hasattr(os, "mkfifo"):
        os.mkfifo(out / "summary.json")
    (out / "gradescope").write_text("a file where a folder goes")
    exports.write_all([_report("alice"), _report("bob")], out, 1.0)
    assert set(rows(out / "grades.csv")) == {"alice", "bob"}
    assert sorted(p.name for p in (out / "students").iterdir()) == ["alice.json", "bob.json"]
    assert not (out / "students").is_symlink() and sorted(p.name for p in victim.iterdir()) == ["keep.txt"]
    assert json.loads((out / "summary.json").read_text())["graded"] == 2
    assert (out / "gradescope" / "bob" / "results.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".grading-")]


def test_an_out_folder_replaced_by_a_link_or_a_file(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "out"
    out.symlink_to(elsewhere, target_is_directory=True)
    exports.write_all([_report("alice")], out, 1.0)
    assert out.is_dir() and not out.is_symlink() and list(elsewhere.iterdir()) == []
    assert (tmp_path / "out.not-a-folder").is_symlink()
    out2 = tmp_path / "out2"
    out2.write_text("file")
    exports.write_all([_report("alice")], out2, 1.0)
    assert (out2 / "grades.csv").exists()


def test_gradescope_results_replace_what_was_planted(tmp_path):
    sub = tmp_path / "submission"
    sub.mkdir()
    (sub / NAME).write_text("{ truncated")
    victim = tmp_path / "victim.json"
    victim.write_text("mine")
    for planted in ("link", "fifo", "folder"):
        results = tmp_path / planted / "results.json"
        results.parent.mkdir()
        if planted == "link":
            results.symlink_to(victim)
        elif planted == "fifo":
            os.mkfifo(results)
        else:
            (results / "x").mkdir(parents=True)
        assert cli.main(["gradescope", "--submission", str(sub), "--results", str(results), "--lesson", "01"]) == 0
        assert results.is_file() and not results.is_symlink()
        assert json.loads(results.read_text())["score"] == 0
    assert victim.read_text() == "mine"


def test_merge_skips_what_is_not_a_report(tmp_path):
    exports.write_all([_report("alice"), _report("bob")], tmp_path / "a", 1.0)
    students = tmp_path / "a" / "students"
    (students / "bob.json").write_text("[" * 100_000)
    (students / "eve.json").symlink_to(students / "alice.json")
    (students / "zed.json").write_text(json.dumps({"student": "zed"}))
    problems = []
    summary = exports.merge([tmp_path / "a"], tmp_path / "m", problems)
    assert summary["graded"] == 1 and len(problems) == 3
    other = tmp_path / "b"
    exports.write_all([dict(_report("alice"), source="another alice")], other, 1.0)
    problems = []
    assert exports.merge([tmp_path / "a", other], tmp_path / "m2", problems)["graded"] == 2
    assert set(rows(tmp_path / "m2" / "grades.csv")) == {"alice", "alice-2"}
    assert any("two different students" in p for p in problems)


def test_write_all_refuses_ids_that_would_collide():
    with pytest.raises(ValueError):
        exports.write_all([_report("a"), _report("A")], pathlib.Path("unused"), 0.0)
    with pytest.raises(ValueError):
        exports.write_all([_report("../a")], pathlib.Path("unused"), 0.0)


def test_classroom_output_is_base64_json():
    payload = json.loads(base64.b64decode(exports.classroom_output(batch.build_report(
        submissions.Submission("s", "s", problem="nothing"), [], ("lesson01",)))))
    assert payload["max_score"] == 3 and payload["status"] == "fail"


# == the kernel batches ===============================================================================
# Each batch runs once (module fixture) with a fixed secret, so that "alone" and "in the mixed
# batch" draw the same extra points; honest submissions must get exactly the same results in both.
SECRET = "attack-tests"


def spawn_daemons(marker: str) -> str:
    return textwrap.dedent(f"""
        import os, subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", {marker!r}], start_new_session=True)
        if os.fork() == 0:  # a double-forked daemon in its own session
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", {marker!r}])
            os._exit(0)
    """)


def respawner(marker: str) -> str:
    """A process that keeps moving: forks, lets its parent exit, starts a new session, again."""
    code = ("import os, time\nfor _ in range(3000):\n    time.sleep(0.05)\n    if os.fork():\n        os._exit(0)\n"
            "    os.setsid()\n")
    return (f"import subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', {code!r}, {marker!r}], start_new_session=True)\n")


def once(flag: pathlib.Path, action: str) -> str:
    return (f"import os, signal\nif not os.path.exists({str(flag)!r}):\n"
            f"    open({str(flag)!r}, 'w').close()\n    {action}\n")


KILL_WORKER = "os.kill(os.getppid(), signal.SIGKILL)"
STOP_WORKER = "os.kill(os.getppid(), signal.SIGSTOP)"

OBSERVE = """
import ctypes, json, os, stat
cwd = os.getcwd()
private = os.path.dirname(cwd)
root = os.path.dirname(private)
with open({path!r}, "w") as f:
    json.dump({{"cwd": cwd, "private": private, "private_mode": stat.S_IMODE(os.stat(private).st_mode),
               "root_mode": stat.S_IMODE(os.stat(root).st_mode), "tmpdir": os.environ.get("TMPDIR"),
               "in_private": sorted(os.listdir(private)), "dumpable": ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
               "secret": os.environ.get("CHECKER_GRADING_SECRET")}}, f)
"""

CHANNEL_SQUATTER = """
import json, os, stat, threading, time
forged = json.dumps({"id": "lesson01.dz_dx", "nonce": "0" * 32,
                     "answer": {"callable": True, "calls": [{"t": "float", "v": 0.0}] * 41}}) + "\\n"
for folder in (".", "..", os.environ.get("TMPDIR", ".")):
    for name in ("probe-" + "0" * 32 + ".jsonl", "probe-fifo.jsonl"):
        try:
            os.mkfifo(os.path.join(folder, name))
        except OSError:
            pass
    try:
        with open(os.path.join(folder, "probe-big.jsonl"), "wb") as f:
            f.truncate(10**10)  # sparse: 10 GB on paper
    except OSError:
        pass

def spam():  # forged lines into every pipe this kernel holds, the probe's included
    while True:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if stat.S_ISFIFO(os.fstat(int(fd)).st_mode) and os.access(f"/proc/self/fd/{fd}", os.W_OK):
                    os.write(int(fd), forged.encode())
            except OSError:
                pass
        for folder in (".", ".."):  # and swap anything that looks like the old channel file
            for name in os.listdir(folder):
                if name.startswith("probe-") and name.endswith(".jsonl") and name != "probe-big.jsonl":
                    try:
                        path = os.path.join(folder, name)
                        if stat.S_ISREG(os.lstat(path).st_mode):
                            with open(path + ".tmp", "w") as f:
                                f.write(forged)
                            os.replace(path + ".tmp", path)
                    except OSError:
                        pass
        time.sleep(0.05)

threading.Thread(target=spam, daemon=True).start()
"""

TRUTH = """
import torch as _torch
_grad = _torch.autograd.grad
_F = {"dy_dx": lambda t: t**2, "dz_dx": lambda t: _torch.sin(t**2), "dg_dx": lambda t: t * _torch.sin(t)}

def _truth(name, x):  # autograd's derivative, through a saved reference
    t = _torch.tensor(float(x), dtype=_torch.float64, requires_grad=True)
    return _grad(_F[name](t), t)[0].item()
"""

JSON_FORGER = TRUTH + """
import json
_loads, _dumps = json.loads, json.dumps
_seen = {}

def _forged_loads(s, *a, **k):  # the probe's request: remember every exercise's points
    obj = _loads(s, *a, **k)
    if isinstance(obj, dict) and isinstance(obj.get("exercises"), list):
        for e in obj["exercises"]:
            _seen[e["id"]] = e
    return obj

def _forged_dumps(obj, *a, **k):  # the probe's answers: replace them with autograd's
    try:
        e, answer = _seen.get(obj.get("id")), obj.get("answer")
        if e and isinstance(answer, dict) and "calls" in answer:
            answer["calls"] = [{"t": "float", "v": _truth(e["name"], p[0])} for p in e["points"]]
            answer.pop("stop", None)
    except Exception:
        pass
    return _dumps(obj, *a, **k)

json.loads, json.dumps = _forged_loads, _forged_dumps
"""

OPEN_FORGER = TRUTH + """
import builtins, json, sys
_open = builtins.open

class _Rewriter:
    def __init__(self, f):
        self.f = f

    def write(self, text):
        try:
            record = json.loads(text)
            frame = sys._getframe(1)
            while frame is not None and not isinstance(frame.f_locals.get("ex"), dict):
                frame = frame.f_back
            e = frame.f_locals["ex"]
            if "calls" in record.get("answer", {}):
                record["answer"]["calls"] = [{"t": "float", "v": _truth(e["name"], p[0])} for p in e["points"]]
                record["answer"].pop("stop", None)
                text = json.dumps(record) + "\\n"
        except Exception:
            pass
        return self.f.write(text)

    def __getattr__(self, name):
        return getattr(self.f, name)

def _forged_open(path, *args, **kwargs):
    f = _open(path, *args, **kwargs)
    return _Rewriter(f) if "probe-" in str(path) else f

builtins.open = _forged_open
"""

TABLE_FORGER = """
from checker import lesson01 as _lesson
from checker.engine.judge import sampled_reference as _ref

def _table(ex):  # autograd's values at the exercise's fixed, public sample points
    ref = _ref(ex)
    return {ref.points[i][0]: v for i, v in zip(ref.valid, ref.expected[0].tolist())}

_T = {name: _table(getattr(_lesson, name)) for name in ("dy_dx", "dz_dx", "dg_dx")}

def dy_dx(x):
    return _T["dy_dx"].get(x, 0.0)

def dz_dx(x):
    return _T["dz_dx"].get(x, 0.0)

def dg_dx(x):
    return _T["dg_dx"].get(x, 0.0)
"""

PROBE_LOOPS = """
class _Loops:
    @property
    def __signature__(self):  # runs when the grader reads the signature
        while True:
            pass

    def __call__(self, x):
        return 2 * x

dy_dx = _Loops()

class _F(float):
    def __float__(self):  # runs when the grader reads the value back
        while True:
            pass

def dz_dx(x):
    return _F(2 * x * math.cos(x**2))

class _L(list):
    def __len__(self):  # runs when the grader reads a list back
        while True:
            pass

def dg_dx(x):
    return _L([math.sin(x) + x * math.cos(x)])
"""

PROBE_SWALLOWS = """
import signal as _signal

class _Stubborn:
    def __call__(self, x):
        _signal.signal(_signal.SIGALRM, _signal.SIG_IGN)  # no alarm
        while True:
            try:
                while True:
                    pass
            except BaseException:  # and no exception stops it either
                pass

dz_dx = _Stubborn()
"""

WRITES_OUT = """
import os
out = {out!r}
os.makedirs(os.path.join(out, "grades.csv"), exist_ok=True)
for name, make in (("students", lambda p: os.symlink({victim!r}, p)), ("summary.json", os.mkfifo)):
    try:
        make(os.path.join(out, name))
    except OSError:
        pass
"""


def zip_of(path: pathlib.Path, members: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, nb in members.items():
            z.writestr(name, json.dumps(nb))


def run_grader(paths, out, lesson, root, timeout=60, jobs=2) -> subprocess.CompletedProcess:
    env = dict(os.environ, CHECKER_GRADING_SECRET=SECRET)
    return subprocess.run(
        [sys.executable, "-m", "checker", "grade", *map(str, paths), "--lesson", lesson, "--jobs", str(jobs),
         "--timeout", str(timeout), "--cell-timeout", "15", "--submission-timeout", "600", "--out", str(out),
         "--quiet"], cwd=root, env=env, capture_output=True, text=True, timeout=1800)


def reports_in(out: pathlib.Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in (out / "students").glob("*.json")}


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    subs, flags, out, victim = root / "subs", root / "flags", root / "out", root / "victim"
    flags.mkdir()
    victim.mkdir()
    marker = f"checker-attack-{os.getpid()}-{time.monotonic_ns()}"
    master = json.loads(MASTER.read_text())

    def student(name, nb, filename=NAME):
        write_nb(subs / name / filename, nb)

    student("honest_solution", master)
    student("honest_wrong", answered(dz_dx=WRONG["dz_dx"]))
    zip_of(subs / "zip_two.zip", {"zip_two/01_derivatives.ipynb": answered(**WRONG),
                                  "zip_two/01_derivatives_v2.ipynb": answered()})
    zip_of(subs / "zip_corrupt.zip", {"zip_corrupt/01_derivatives.ipynb": answered(),
                                      "zip_corrupt/01_derivatives_old.ipynb": answered(**WRONG)})
    corrupt_member(subs / "zip_corrupt.zip", "zip_corrupt/01_derivatives_old.ipynb")
    student("odd_sources", append(answered(), 42, {"a": 1}, [1, 2]))
    student("other_lesson_too", answered())
    shutil.copy(MASTER02, subs / "other_lesson_too" / "02_autograd.ipynb")
    (subs / "links").mkdir()
    (subs / "links" / NAME).symlink_to(subs / "honest_solution" / NAME)
    (subs / "fifo").mkdir()
    os.mkfifo(subs / "fifo" / NAME)
    student("kill_once", insert_first(answered(), once(flags / "kill", KILL_WORKER)))
    student("kill_always", insert_first(answered(), spawn_daemons(marker + "-k") + "\nimport signal\n" + KILL_WORKER))
    student("stop_once", insert_first(answered(), once(flags / "stop", STOP_WORKER)))
    student("daemons", insert_first(answered(), spawn_daemons(marker + "-d") + respawner(marker + "-r")))
    student("observe", append(answered(), OBSERVE.format(path=str(root / "observed.json"))))
    student("channel_squatter", append(answered(**WRONG), CHANNEL_SQUATTER))
    student("json_forger", append(answered(**WRONG), JSON_FORGER))
    student("open_forger", append(answered(**WRONG), OPEN_FORGER))
    student("table_forger", append(answered(**WRONG), TABLE_FORGER))
    student("probe_loops", append(answered(), PROBE_LOOPS))
    student("probe_swallows", append(answered(), PROBE_SWALLOWS))
    student("writes_out", append(answered(), WRITES_OUT.format(out=str(out), victim=str(victim))))
    paths = sorted(subs.iterdir())
    done = run_grader(paths, out, "lesson01", root)
    time.sleep(1)
    return {"root": root, "out": out, "done": done, "reports": reports_in(out), "paths": paths, "marker": marker,
            "victim": victim, "observed": json.loads((root / "observed.json").read_text())
            if (root / "observed.json").exists() else None}


def scores_of(report) -> tuple:
    got = {r["exercise_id"]: r for r in report["results"]}
    return tuple(got[i]["score"] for i in IDS)


def result(report, ex_id):
    return next(r for r in report["results"] if r["exercise_id"] == ex_id)


def notes_of(report) -> str:
    return " | ".join(report.get("notes", []) + [n for nb in report["notebooks"] for n in nb["notes"]])


def test_mixed_batch_ends_with_a_complete_gradebook(mixed):
    assert mixed["done"].returncode == 0, mixed["done"].stderr[-3000:]
    expected = {p.name[:-4] if p.name.endswith(".zip") else p.name for p in mixed["paths"]}
    assert set(mixed["reports"]) == expected
    assert set(rows(mixed["out"] / "grades.csv")) == expected
    assert all(r["max_score"] == 3 for r in mixed["reports"].values())


def test_honest_submissions_get_what_they_get_alone(mixed, tmp_path):
    paths = [p for p in mixed["paths"] if p.name in ("honest_solution", "honest_wrong")]
    done = run_grader(paths, tmp_path / "out", "lesson01", tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    alone = reports_in(tmp_path / "out")
    for name in ("honest_solution", "honest_wrong"):
        assert alone[name]["results"] == mixed["reports"][name]["results"]
    assert scores_of(alone["honest_solution"]) == (1, 1, 1) and scores_of(alone["honest_wrong"]) == (1, 0, 1)


def test_zips_with_two_notebooks_or_a_corrupt_member(mixed):
    two = mixed["reports"]["zip_two"]
    assert scores_of(two) == (1, 1, 1) and len(two["notebooks"]) == 2
    assert [nb["used"] for nb in two["notebooks"]] == [False, True]
    corrupt = mixed["reports"]["zip_corrupt"]
    assert scores_of(corrupt) == (1, 1, 1)
    assert "could not be read from the zip" in notes_of(corrupt)


def test_cells_whose_source_is_not_text(mixed):
    report = mixed["reports"]["odd_sources"]
    assert scores_of(report) == (1, 1, 1) and "not text" in notes_of(report)


def test_another_lessons_notebook_earns_nothing_and_is_not_run(mixed):
    report = mixed["reports"]["other_lesson_too"]
    assert report["score"] == 3 and report["max_score"] == 3
    lesson02 = next(nb for nb in report["notebooks"] if nb["lesson"] == "lesson02")
    assert not lesson02["used"] and lesson02["seconds"] == 0.0
    assert "not lesson01" in " ".join(lesson02["notes"])


def test_links_and_fifos_are_not_read(mixed):
    for name, kind in (("links", "symbolic link"), ("fifo", "FIFO")):
        report = mixed["reports"][name]
        assert scores_of(report) == (0, 0, 0) and kind in notes_of(report)


def test_a_notebook_that_kills_its_worker_once_is_rerun(mixed):
    report = mixed["reports"]["kill_once"]
    assert scores_of(report) == (1, 1, 1)
    assert "the first run failed (its worker process ended without a result)" in notes_of(report)


def test_a_notebook_that_kills_its_worker_every_time_gets_0_with_the_reason(mixed):
    report = mixed["reports"]["kill_always"]
    assert scores_of(report) == (0, 0, 0)
    assert all("broke the grader's worker twice" in r["message"] for r in report["results"])


def test_a_notebook_that_stops_its_worker_is_killed_and_rerun(mixed):
    report = mixed["reports"]["stop_once"]
    assert scores_of(report) == (1, 1, 1)
    assert "still running past the notebook's time limit, and was killed" in notes_of(report)


def test_no_process_a_notebook_started_outlives_the_batch(mixed):
    assert LINUX
    for suffix in ("-d", "-r", "-k"):  # daemons, a moving respawner, daemons of a worker-killer
        assert alive_with(mixed["marker"] + suffix) == [], suffix
    assert scores_of(mixed["reports"]["daemons"]) == (1, 1, 1)


def test_each_notebook_has_a_private_folder_and_hidden_proc_entries(mixed):
    seen = mixed["observed"]
    assert seen is not None
    assert seen["private_mode"] & 0o777 == 0o700 and seen["root_mode"] & 0o777 == 0o300  # not listable by others
    assert seen["tmpdir"].startswith(seen["private"] + os.sep)
    assert not [n for n in seen["in_private"] if n.startswith("kernel-")]  # the kernel's key is gone
    assert seen["dumpable"] == 0 and seen["secret"] is None
    assert not os.path.exists(seen["private"])
    assert scores_of(mixed["reports"]["observe"]) == (1, 1, 1)


@pytest.mark.parametrize("name", ["channel_squatter", "json_forger", "open_forger"])
def test_forging_the_channel_earns_nothing(mixed, name):
    report = mixed["reports"][name]
    assert scores_of(report) == (0, 0, 0)
    assert [result(report, i)["status"] for i in IDS] == ["incorrect"] * 3
    assert result(report, "lesson01.dz_dx")["mistake"] == "missing-inner-factor"


def test_a_table_of_the_public_points_earns_nothing(mixed):
    report = mixed["reports"]["table_forger"]
    assert scores_of(report) == (0, 0, 0)
    assert all("further points drawn for this grading run" in r["message"] for r in report["results"])


def test_student_code_run_while_reading_answers_back_is_time_limited(mixed):
    loops = mixed["reports"]["probe_loops"]  # a signature, a __float__ and a __len__ that loop
    assert scores_of(loops) == (0, 0, 0)
    assert all("took longer than 5 s" in result(loops, i)["message"] for i in IDS)
    swallows = mixed["reports"]["probe_swallows"]  # ignores SIGALRM and swallows every exception
    assert scores_of(swallows) == (1, 0, 1)
    assert "took longer than 5 s" in result(swallows, "lesson01.dz_dx")["message"]


def test_a_notebook_writing_into_the_out_folder_changes_nothing(mixed):
    out = mixed["out"]
    assert (out / "grades.csv").is_file() and not (out / "students").is_symlink()
    assert list(mixed["victim"].iterdir()) == []
    assert json.loads((out / "summary.json").read_text())["graded"] == len(mixed["paths"])
    assert scores_of(mixed["reports"]["writes_out"]) == (1, 1, 1)


@pytest.fixture(scope="module")
def lesson02(tmp_path_factory):
    root = tmp_path_factory.mktemp("lesson02")
    subs = root / "subs"
    relabelled = json.loads(MASTER.read_text())
    relabelled["metadata"].setdefault("course", {})["generated_from"] = "notebooks/master/02_autograd.ipynb"
    write_nb(subs / "relabelled" / "02_autograd.ipynb", relabelled)
    write_nb(subs / "honest" / "02_autograd.ipynb", json.loads(MASTER02.read_text()))
    sneaky = json.loads(MASTER02.read_text())
    sneaky["cells"].append(cell("class _Sneaky:\n    @property\n    def __class__(self):\n        while True:\n"
                                "            pass\n\n\ntwo_backward = _Sneaky()\n"))
    write_nb(subs / "value_loops" / "02_autograd.ipynb", sneaky)
    meta = json.loads(MASTER02.read_text())
    meta["cells"].append(cell("torch.set_default_device('meta')  # as students do with 'cuda'\n"))
    write_nb(subs / "meta_default" / "02_autograd.ipynb", meta)
    done = run_grader(sorted(subs.iterdir()), root / "out", "lesson02", root, timeout=120)
    return {"done": done, "reports": reports_in(root / "out")}


def test_a_relabelled_lesson01_notebook_earns_nothing_in_lesson02(lesson02):
    assert lesson02["done"].returncode == 0, lesson02["done"].stderr[-3000:]
    report = lesson02["reports"]["relabelled"]
    assert report["score"] == 0 and report["max_score"] == 5
    for ex_id in ("lesson02.fix_leaf", "lesson02.fix_zeroing"):
        assert result(report, ex_id)["mistake"] == "not-by-autograd"


def test_lesson02_solutions_pass_through_the_grader(lesson02):
    report = lesson02["reports"]["honest"]
    assert report["score"] == 5 == report["max_score"], [r["message"] for r in report["results"]]


def test_reading_a_predicted_value_back_is_time_limited(lesson02):
    report = lesson02["reports"]["value_loops"]
    assert result(report, "lesson02.two_backward")["score"] == 0
    assert "took longer than 5 s" in result(report, "lesson02.two_backward")["message"]
    assert report["score"] == 4


@pytest.fixture(scope="module")
def budget(tmp_path_factory):
    root = tmp_path_factory.mktemp("budget")
    folder = root / "subs" / "slow"
    write_nb(folder / NAME, append(answered(), "while True:\n    pass\n"))  # uses up the submission's time
    write_nb(folder / "01_derivatives_b.ipynb", answered())
    env = dict(os.environ, CHECKER_GRADING_SECRET=SECRET)
    done = subprocess.run(
        [sys.executable, "-m", "checker", "grade", str(folder), "--lesson", "lesson01", "--timeout", "60",
         "--cell-timeout", "60", "--submission-timeout", "20", "--out", str(root / "out"), "--quiet"],
        cwd=root, env=env, capture_output=True, text=True, timeout=900)
    return {"done": done, "reports": reports_in(root / "out")}


def test_a_submissions_notebooks_share_its_time_limit(budget):
    assert budget["done"].returncode == 0, budget["done"].stderr[-2000:]
    report = budget["reports"]["slow"]
    first, second = report["notebooks"]
    assert "ran past its 20 s time limit" in " ".join(first["notes"])
    assert "used up its 20 s time limit" in " ".join(second["notes"]) and second["seconds"] == 0.0
    assert scores_of(report) == (1, 1, 1)  # the first notebook's answers were defined before its loop


def test_the_probe_passes_cpu_tensors_whatever_the_default_device(lesson02):
    report = lesson02["reports"]["meta_default"]
    assert result(report, "lesson02.vjp")["status"] == "correct", result(report, "lesson02.vjp")["message"]


def test_zip_members_with_a_path_outside_the_zip_are_skipped_and_reported(tmp_path):
    archive = tmp_path / "zo.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("../01_derivatives.ipynb", json.dumps(empty_nb()))
        z.writestr("zo/../../01_derivatives.ipynb", json.dumps(empty_nb()))
    sub = loaded(archive)
    assert sub.notebooks == [] and " ".join(sub.notes).count("a path outside the zip") == 2
