"""The worker pool: grades jobs in parallel processes, each with its own sandbox zygote."""
import multiprocessing
import traceback
from pathlib import Path

from autograder import grading
from autograder.progress import Progress
from autograder.received import describe
from autograder.result import PartResult, Result
from autograder.supervise import Zygote

# Per worker process: its zygote and the checks modules it has imported, by assignment.
_worker = {}


def _init_worker(preload):
    _worker["zygote"] = Zygote(preload)  # imports in its own process while this one goes on
    _worker["checks"] = {}
    if "torch" in preload:  # tensors from the student's code arrive as torch tensors here too
        import torch  # noqa: F401


def _checks(assignment):
    if assignment.name not in _worker["checks"]:
        _worker["checks"][assignment.name] = assignment.checks_module()
    return _worker["checks"][assignment.name]


def _grade_job(job):
    try:
        return grading.grade(job, _worker["zygote"], _checks(job.assignment))
    except Exception as exc:  # failed before grade() held anything (e.g. the checks did not import)
        result = grader_error(job, exc)
        _write_result(result, Path(job.autograded_dir))
        return result


def grader_error(job, exc):
    """The Result for a job the grader failed on before checking anything: every part 0, the traceback kept."""
    assignment = job.assignment
    parts = {name: PartResult(name, part.points, message=grading.NOT_CHECKED)
             for name, part in assignment.parts.items()}
    return Result(assignment.name, job.student, status="grader error", detail=f"the grader failed: {describe(exc)}",
                  trace=traceback.format_exc(), events=["grader error"], parts=parts,
                  manual=dict(assignment.written), notes=[grading.GRADER_FAILED])


def _write_result(result, folder):
    """Leave result.json for the feedback page, and no notebook from an earlier grading beside it."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{result.assignment}.ipynb").unlink(missing_ok=True)
        result.write(folder / "result.json")
    except OSError as exc:  # the gradebook still gets the result; say where the page went
        result.detail += f"; result.json could not be written: {exc}"


def grade_all(jobs, workers, preload=(), progress_label="grading", on_result=None, on_start=None):
    """Grade jobs in a pool of worker processes; results in job order.

    on_start() runs in this process once the workers are forked (work to overlap with theirs);
    on_result(result) runs in this process as each result arrives, while the workers go on.
    """
    if not jobs:
        return []
    # fork: workers start in milliseconds with this process's imports (they hold nothing secret:
    # student code runs in processes forked from each worker's separate, clean zygote)
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    ctx = multiprocessing.get_context(method)
    progress = Progress(len(jobs), progress_label)
    by_student = {}
    with ctx.Pool(workers, initializer=_init_worker, initargs=(tuple(preload),)) as pool:
        if on_start is not None:
            on_start()
        for result in pool.imap_unordered(_grade_job, jobs):
            by_student[result.student] = result
            if on_result is not None:
                on_result(result)
            progress.step()
        pool.close()
        pool.join()
    return [by_student[job.student] for job in jobs]
