"""Bulk grading's probe, run in this process: the prelude and the probe cell exec'd in a namespace that
holds the answers, the numbers read back through the worker's pipe (probe.Channel), and judged by replay,
as `python -m checker grade` does with a real kernel, without starting one."""
from checker.grading import probe, replay


def probe_answers(requests: list[dict], namespace: dict) -> dict:
    """The probe's raw answers, by exercise id, for `requests` (probe.exercise_request) run on `namespace`."""
    channel = probe.Channel()
    try:
        runner = probe.runner_name()
        namespace = {"__name__": "__main__", **namespace}
        exec(compile(probe.prelude_source(channel.write_fd, runner), "<prelude cell>", "exec"), namespace)
        nonce = probe.new_nonce()
        channel.expect(nonce)
        exec(compile(probe.cell_source(requests, nonce, runner), "<probe cell>", "exec"), namespace)
        channel.drain()
        records, _ = channel.snapshot()
    finally:
        channel.close()
    answers, _, done = probe.read_records(records)
    assert done
    return answers


def bulk_grade(ex, answer, tmp_path=None, **names):
    answers = probe_answers([probe.exercise_request(ex)], {ex.answer_name: answer, **names})
    return replay.judge(ex, answers.get(ex.id), "the probe never reported it")
