"""What an instructor sees: the class report (`python -m checker report`) opened from disk in Chromium."""
from __future__ import annotations

import json

from checker.grading import cli
from checker.lessons.catalog import find

DZ = "lesson01.dz_dx"


def grading_folder(folder):
    """Ten students of lesson01.dz_dx: 4 forgot the inner factor, 2 flipped the sign, 3 right, 1 skipped."""
    (folder / "students").mkdir(parents=True)
    plan = [("incorrect", "missing-inner-factor", None)] * 4 + [("incorrect", None, "sign")] * 2 + [
        ("correct", None, None)] * 3 + [("not_attempted", None, None)]
    for i, (status, mistake, diagnosis) in enumerate(plan):
        score = 1.0 if status == "correct" else 0.0
        result = {"exercise_id": DZ, "status": status, "message": "", "title": "", "score": score,
                  "max_score": 1.0, "mistake": mistake, "diagnosis": diagnosis, "details": [], "n_points": 33,
                  "passed": status == "correct"}
        report = {"student": f"s{i:02d}", "status": "graded", "score": score, "max_score": 1.0,
                  "results": [result], "notebooks": [], "seconds": 1.0}
        (folder / "students" / f"s{i:02d}.json").write_text(json.dumps(report))
    return folder


def test_report_shows_the_top_misconception_offline(page, tmp_path):
    from conftest import ARTIFACTS

    out = tmp_path / "report.html"
    assert cli.main(["report", str(grading_folder(tmp_path / "grading")), "--out", str(out), "--anonymize"]) == 0
    requested = []
    page.route("**/*", lambda route: (requested.append(route.request.url), route.continue_()
                                      if route.request.url.startswith("file:") else route.abort()))
    message = next(m.message for m in find(DZ).mistakes if m.id == "missing-inner-factor")
    ARTIFACTS.mkdir(exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.goto(out.as_uri())
        top = page.locator("#top-misconception")
        top.wait_for()
        assert top.is_visible()
        text = top.inner_text()
        assert "40%" in text and message.split(":")[0] in text
        page.screenshot(path=str(ARTIFACTS / f"class_report_{scheme}.png"), full_page=True)
    assert all(url.startswith("file:") for url in requested), requested
