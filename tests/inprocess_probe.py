"""Bulk grading's probe, run in this process instead of a student's kernel (no Jupyter needed).

`bulk_grade(ex, answer)` sends the probe cell the grader would send, with `answer` defined under
the exercise's answer name, reads the channel back and judges it as the grader does: the Result a
student would get from `python -m checker grade`.
"""
from checker.grading import probe, replay


def bulk_grade(ex, answer, tmp_path, **names):
    channel = tmp_path / f"probe-{ex.id}.jsonl"
    nonce = probe.new_nonce()
    source = probe.cell_source([probe.exercise_request(ex)], nonce, str(channel))
    namespace = {"__name__": "__main__", ex.answer_name: answer, **names}
    exec(compile(source, "<probe cell>", "exec"), namespace)
    answers, _, done = probe.read_channel(channel, nonce)
    assert done
    return replay.judge(ex, answers.get(ex.id), "the probe never reported it")
