"""Grading at scale (issue 14): shards, one PostgreSQL gradebook, a real Slurm array, a Kubernetes Job.

One mixed batch of chapter 1 submissions (correct, wrong, hostile, broken, and a slow one) is
collected once and graded on one machine (2 workers, SQLite) for the reference CSV; then in
shards writing into a real PostgreSQL server, with one shard killed mid-run and rerun; then as a
Slurm job array on a one-node cluster started from Debian's packages. Every final CSV must be
byte for byte the reference. Where a server cannot start, the test is skipped with the reason.
"""
import hashlib
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import servers
from conftest import ASSIGNMENT, REPO, build_submission, copy_released, solution_sources, write_submissions

SBATCH = REPO / "autograder" / "slurm" / "autograde.sbatch"
MANIFEST = REPO / "autograder" / "k8s" / "autograde-job.yaml"
SLOW_SECONDS = 6  # the slow student's sleep: the window in which a shard is killed


# ----------------------------------------------------------------------------- the split itself
def test_a_shard_is_the_sha256_of_the_student_id_mod_n():
    from autograder.shard import shard_of

    for student in ("alice", "bob", "a.b+c@d-e_f", "zoë"):
        for n in (1, 2, 3, 7, 64):
            expected = int(hashlib.sha256(student.encode()).hexdigest()[:16], 16) % n
            assert shard_of(student, n) == expected


def test_shards_partition_the_students_whoever_else_was_collected():
    from autograder.shard import select

    students = [f"s{i:04d}" for i in range(1000)]
    for n in (1, 2, 5):
        slices = [select(students, i, n) for i in range(n)]
        assert sorted(s for part in slices for s in part) == students  # none lost, none twice
        # each slice is within 5 standard deviations of N/n (binomial)
        sd = (len(students) * (1 / n) * (1 - 1 / n)) ** 0.5
        assert all(abs(len(part) - len(students) / n) <= 5 * sd + 1e-9 for part in slices)
    # a late student changes no one else's shard
    with_late = students + ["late_arrival"]
    assert [s for s in select(with_late, 1, 5) if s != "late_arrival"] == select(students, 1, 5)


@pytest.mark.parametrize("spec, words", [("2/2", "0 .. 1"), ("1", "i/N"), ("-1/2", "i/N"), ("0/0", "at least 1")])
def test_a_bad_shard_is_refused_in_words(spec, words):
    from autograder.shard import ShardSpecError, parse

    with pytest.raises(ShardSpecError, match=words.replace(".", r"\.")):
        parse(spec)
    assert parse("3/4") == (3, 4)


def _result(course, student, score_each):
    from autograder.result import PartResult, Result

    manifest = course.assignment(ASSIGNMENT)
    parts = {name: PartResult(name, part.points, score=min(score_each, part.points))
             for name, part in manifest.parts.items()}
    return Result(ASSIGNMENT, student, status="graded", detail="", parts=parts, manual=dict(manifest.written))


def test_a_results_scores_and_outcome_are_written_together_or_not_at_all(course, monkeypatch):
    """The recorder's one transaction per result: an outcome the database refuses takes the
    result's scores with it, and a regrade replaces both."""
    from nbgrader.api import Gradebook

    from autograder.gradebook import Recorder, read_outcomes, read_scores

    def refuse(self, result):
        raise RuntimeError("simulated: the connection dropped")

    with Recorder(course) as recorder:
        recorder.add(_result(course, "kept", 1.0))
        with monkeypatch.context() as patch:
            patch.setattr(Recorder, "_save_outcome", refuse)
            recorder.add(_result(course, "refused", 1.0))
        recorder.add(_result(course, "regraded", 0.0))
        recorder.add(_result(course, "regraded", 1.0))
    assert (recorder.written, [s for s, _ in recorder.failed]) == (3, ["refused"])
    assert [o.student for o in read_outcomes(course.db_url)] == ["kept", "regraded"]
    with Gradebook(course.db_url) as gb:
        scores = read_scores(gb, ASSIGNMENT)
    parts = course.assignment(ASSIGNMENT).parts
    assert all(scores["refused"][g].auto_score is None for g in parts)  # nbgrader's empty submission only
    assert [scores[s][g].auto_score for s in ("kept", "regraded") for g in parts] == [1.0] * 2 * len(parts)


def test_a_shard_whose_results_the_gradebook_refused_exits_non_zero_after_writing_the_rest(course, tmp_path,
                                                                                           monkeypatch):
    """So that Slurm or Kubernetes marks the task failed and it is run again."""
    from autograder.autograde import autograde
    from autograder.course import collect
    from autograder.gradebook import Recorder, read_outcomes

    inbox = write_submissions(tmp_path / "inbox", {"kept": build_submission(course), "refused": b""})
    collect(course, ASSIGNMENT, inbox)
    save = Recorder._save_outcome

    def refuse_one(self, result):
        if result.student == "refused":
            raise RuntimeError("simulated: the connection dropped")
        save(self, result)

    monkeypatch.setattr(Recorder, "_save_outcome", refuse_one)
    with pytest.raises(SystemExit, match="shard 0/1: 1 result.s. could not be written"):
        autograde(course, ASSIGNMENT, 1, shard=(0, 1))
    assert [o.student for o in read_outcomes(course.db_url)] == ["kept"]


def _open_outcome_table_at_the_barrier(url, barrier, errors):
    """One shard starting: open the outcome table once every process is at the barrier."""
    from sqlalchemy import create_engine

    from autograder.gradebook import open_outcome_table

    db = create_engine(url)
    try:
        barrier.wait(timeout=60)
        open_outcome_table(db)
    except Exception as exc:
        errors.put(f"{type(exc).__name__}: {exc}")
    finally:
        db.dispose()


def test_two_shards_opening_a_fresh_sqlite_gradebooks_outcome_table_at_once_both_succeed(tmp_path):
    """Two processes creating the table at the same moment: neither fails on the other's CREATE TABLE."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    for attempt in range(10):
        url = f"sqlite:///{tmp_path / f'gradebook{attempt}.db'}"
        barrier, errors = ctx.Barrier(2), ctx.Queue()
        procs = [ctx.Process(target=_open_outcome_table_at_the_barrier, args=(url, barrier, errors))
                 for _ in range(2)]
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join(timeout=120)
        failures = []
        while not errors.empty():
            failures.append(errors.get())
        assert not failures, f"attempt {attempt}: {failures}"
        assert [proc.exitcode for proc in procs] == [0, 0], f"attempt {attempt}"


# ----------------------------------------------------------------------------- the batch
def _batch(course):
    """student -> submission; shard 0 (of 2): ada ben cleo finn jun, shard 1: dan eve gus hana zoe."""
    from autograder.mutants.ch01_rnn_by_hand import MUTANTS

    single = [m for m in MUTANTS if len(m.answers) == 1]
    ref = solution_sources()
    patched = ("import numpy\nnumpy.allclose = np.allclose = lambda *a, **k: True\n"
               "np.testing.assert_allclose = lambda *a, **k: None\n"
               "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return 0.0")
    return {
        "ada": build_submission(course), "dan": build_submission(course), "gus": build_submission(course),
        "ben": build_submission(course, single[0].answers), "eve": build_submission(course, single[2].answers),
        "cleo": build_submission(course, {"rnn_step_scalar": patched}),  # rebinds numpy's comparisons
        "finn": b'{"cells": [', "hana": b"", "jun": None,  # not JSON, an empty file, no notebook
        # correct but slow, and graded last in shard 1: a shard can be killed while it runs
        "zoe": build_submission(course, {"rnn_step_scalar": ref["rnn_step_scalar"]
                                         + f"\nimport time\ntime.sleep({SLOW_SECONDS})"}),
    }


SHARD_1 = {"dan", "eve", "gus", "hana", "zoe"}


def _env():
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                PYTHONPATH=str(REPO))


def grader(course_root, db_url, *args):
    return [sys.executable, "-m", "autograder", "--course", str(course_root), "--db-url", db_url, *args]


def make_grades(course_root, db_url, out):
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "grades", f"COURSE={course_root}",
                           f"DB_URL={db_url}", f"OUT={out}"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Path(out).read_text()


@pytest.fixture(scope="module")
def batch(released_course, tmp_path_factory):
    """The collected course (no gradebook results yet) and the one-machine reference CSV."""
    from autograder.course import collect
    from autograder.shard import select

    tmp = tmp_path_factory.mktemp("scale")
    course = copy_released(released_course, tmp / "base")
    base = course.root
    submitted = _batch(course)
    assert set(select(sorted(submitted), 1, 2)) == SHARD_1
    collect(course, ASSIGNMENT, write_submissions(tmp / "inbox", submitted))
    reference = tmp / "reference"
    shutil.copytree(base, reference)
    db = f"sqlite:///{reference / 'gradebook.db'}"
    proc = subprocess.run(grader(reference, db, "autograde", ASSIGNMENT, "--jobs", "2"), env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    csv_text = make_grades(reference, db, tmp / "reference.csv")
    assert csv_text.count("\n") == 1 + len(submitted)
    return {"base": base, "tmp": tmp, "csv": csv_text, "students": sorted(submitted)}


@pytest.fixture(scope="module")
def pg():
    try:
        with servers.postgres(databases=("shards", "slurm")) as urls:
            yield urls
    except servers.Unavailable as exc:
        pytest.skip(f"PostgreSQL: {exc}")


def pg_course(batch, name, db_url):
    """A copy of the collected course whose gradebook is ``db_url``, released into it once."""
    from autograder.course import Course

    root = batch["tmp"] / name
    shutil.copytree(batch["base"], root)
    (root / "gradebook.db").unlink(missing_ok=True)
    course = Course(root, db_url)
    course.nbgrader("generate_assignment", ASSIGNMENT, "--force")
    return course


def outcomes(db_url):
    """{student: graded_at} from the outcome table (read with our own query, not the CSV's)."""
    from sqlalchemy import create_engine, text

    db = create_engine(db_url)
    try:
        with db.connect() as conn:
            rows = conn.execute(text("SELECT student, graded_at FROM rnn_course_outcome WHERE assignment = :a"),
                                {"a": ASSIGNMENT}).all()
    except Exception:  # the table does not exist yet
        return {}
    finally:
        db.dispose()
    return {student: graded_at for student, graded_at in rows}


def submission_rows(db_url):
    """How many rows nbgrader's gradebook holds per student, for submissions and for grades."""
    from sqlalchemy import create_engine, text

    db = create_engine(db_url)
    try:
        with db.connect() as conn:
            subs = conn.execute(text("SELECT student_id, count(*) FROM submitted_assignment GROUP BY student_id")).all()
            grades = conn.execute(text(
                "SELECT sa.student_id, count(*) FROM grade g JOIN submitted_notebook sn ON g.notebook_id = sn.id "
                "JOIN submitted_assignment sa ON sn.assignment_id = sa.id GROUP BY sa.student_id")).all()
    finally:
        db.dispose()
    return dict(subs), dict(grades)


# ----------------------------------------------------------------------------- shards on PostgreSQL
def test_two_shards_at_once_then_a_killed_shard_rerun_give_the_one_machine_csv(pg, batch):
    url = pg["shards"]
    course = pg_course(batch, "shards", url)
    with open(batch["tmp"] / "shard0.log", "w") as log0, open(batch["tmp"] / "shard1.log", "w") as log1:
        shard0 = subprocess.Popen(grader(course.root, url, "autograde", ASSIGNMENT, "--shard", "0/2", "--jobs", "1"),
                                  env=_env(), stdout=log0, stderr=subprocess.STDOUT)
        shard1 = subprocess.Popen(grader(course.root, url, "autograde", ASSIGNMENT, "--shard", "1/2", "--jobs", "1"),
                                  env=_env(), stdout=log1, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # shard 1 is killed (its whole process group, workers included) once it has written a
        # result, while its last student, the slow one, is still running
        assert servers.poll(lambda: SHARD_1 & set(outcomes(url)), 120, 0.2), \
            "timed out after 120 s waiting for shard 1's first result"
        assert "zoe" not in outcomes(url)
        os.killpg(shard1.pid, signal.SIGKILL)
        shard1.wait(timeout=30)
        assert shard0.wait(timeout=180) == 0, (batch["tmp"] / "shard0.log").read_text()
    finally:
        for proc in (shard0, shard1):
            if proc.poll() is None:
                proc.kill()
    after_kill = outcomes(url)
    shard0_students = set(batch["students"]) - SHARD_1
    assert shard0_students <= set(after_kill) and "zoe" not in after_kill
    assert SHARD_1 & set(after_kill), "the killed shard had written some results"

    # the rerun as the README gives it, through make
    rerun = subprocess.run(["make", "--no-print-directory", "-C", str(REPO), "autograde", f"ASSIGNMENT={ASSIGNMENT}",
                            "SHARD=1/2", "JOBS=2", f"COURSE={course.root}", f"DB_URL={url}"],
                           capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert "shard 1/2: 5 of the 10 collected submission(s)" in rerun.stdout
    assert "gradebook writes: 5 result(s)" in rerun.stdout
    final = outcomes(url)
    # the rerun replaced its own students' results and touched none of shard 0's
    assert {s: final[s] for s in shard0_students} == {s: after_kill[s] for s in shard0_students}
    assert all(final[s] > after_kill[s] for s in SHARD_1 & set(after_kill))
    # one submission and one row per gradebook cell for every student: nothing lost, nothing twice
    subs, grades = submission_rows(url)
    assert subs == {s: 1 for s in batch["students"]}
    assert len(set(grades.values())) == 1 and set(grades) == set(batch["students"])
    assert make_grades(course.root, url, batch["tmp"] / "shards.csv") == batch["csv"]


def test_a_shard_refuses_to_collect_or_release_on_its_own(batch, tmp_path):
    from autograder.course import Course

    root = tmp_path / "course"
    shutil.copytree(batch["base"], root)
    shutil.rmtree(root / "release")
    db = f"sqlite:///{root / 'gradebook.db'}"
    proc = subprocess.run(grader(root, db, "autograde", ASSIGNMENT, "--shard", "0/2"), env=_env(),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "release once before the shards" in proc.stderr
    proc = subprocess.run(grader(root, db, "autograde", ASSIGNMENT, "--shard", "0/2", "--submissions", str(root)),
                          env=_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "collect once, before the shards" in proc.stderr
    assert not Course(root).release_notebook(ASSIGNMENT).exists()


# ----------------------------------------------------------------------------- Slurm
@pytest.fixture
def slurm():
    try:
        with servers.slurm() as cluster:
            yield cluster
    except servers.Unavailable as exc:
        pytest.skip(f"Slurm: {exc}")


@pytest.mark.parametrize("unset, words", [("ASSIGNMENT", "set ASSIGNMENT"), ("SHARDS", "set SHARDS"),
                                          ("DB_URL", "set DB_URL"), ("SLURM_ARRAY_TASK_ID", "--array=0-1")])
def test_the_job_script_says_what_is_missing_before_grading(tmp_path, unset, words):
    env = {"PATH": os.environ["PATH"], "ASSIGNMENT": ASSIGNMENT, "SHARDS": "2", "COURSE": str(tmp_path),
           "DB_URL": "postgresql://nowhere/rnn", "SLURM_ARRAY_TASK_ID": "1", "REPO": str(tmp_path)}
    del env[unset]
    proc = subprocess.run(["bash", str(SBATCH)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0 and words in proc.stderr


def test_the_job_script_refuses_sqlite_and_a_repository_without_its_venv(tmp_path):
    env = {"PATH": os.environ["PATH"], "ASSIGNMENT": ASSIGNMENT, "SHARDS": "2", "COURSE": str(tmp_path),
           "DB_URL": f"sqlite:///{tmp_path}/gradebook.db", "SLURM_ARRAY_TASK_ID": "1", "REPO": str(tmp_path)}
    proc = subprocess.run(["bash", str(SBATCH)], env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and "SQLite" in proc.stderr
    proc = subprocess.run(["bash", str(SBATCH)], env=dict(env, DB_URL="postgresql://nowhere/rnn"),
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 2 and f"no {tmp_path}/.venv/bin/python" in proc.stderr


def job_state(cluster, job):
    """JobState of one job or array task (e.g. '123_1') from slurmctld (no accounting needed)."""
    out = cluster.run("scontrol", "-o", "show", "job", job, check=False)
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    return fields.get("JobState", "")


def test_a_slurm_array_with_one_shard_killed_and_resubmitted_gives_the_one_machine_csv(pg, batch, slurm):
    url = pg["slurm"]
    course = pg_course(batch, "slurm", url)
    logs = batch["tmp"] / "slurm-logs"
    logs.mkdir()
    env = dict(slurm.env, ASSIGNMENT=ASSIGNMENT, SHARDS="2", COURSE=str(course.root), DB_URL=url,
               REPO=str(REPO), JOBS="1")

    def submit(array):
        proc = subprocess.run(["sbatch", "--parsable", f"--array={array}", "--cpus-per-task=1",
                               f"--output={logs}/autograde-%A_%a.log", str(SBATCH)],
                              env=env, cwd=REPO, capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout.strip().split(";")[0]

    def job_logs():
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log"))) + slurm.logs()

    job = submit("0-1")
    assert servers.poll(lambda: SHARD_1 & set(outcomes(url)), 120, 0.2), \
        f"timed out after 120 s waiting for shard 1's first result\n{job_logs()}"
    assert "zoe" not in outcomes(url), job_logs()
    slurm.run("scancel", f"{job}_1")
    assert slurm.wait_idle(job, 120), job_logs()
    assert job_state(slurm, f"{job}_1") == "CANCELLED", job_logs()
    assert job_state(slurm, f"{job}_0") == "COMPLETED", job_logs()
    assert "zoe" not in outcomes(url)

    again = submit("1")  # the same shard alone, with the same SHARDS=2 split
    assert slurm.wait_idle(again, 120), job_logs()
    assert job_state(slurm, f"{again}_1") == "COMPLETED", job_logs()
    assert set(outcomes(url)) == set(batch["students"])
    subs, _ = submission_rows(url)
    assert subs == {s: 1 for s in batch["students"]}
    assert make_grades(course.root, url, batch["tmp"] / "slurm.csv") == batch["csv"], job_logs()


# ----------------------------------------------------------------------------- Kubernetes, on paper
def test_the_kubernetes_manifest_is_an_indexed_job_running_one_shard_per_index():
    import yaml

    [job] = [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]
    assert (job["apiVersion"], job["kind"]) == ("batch/v1", "Job")
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert spec["completions"] == spec["parallelism"] >= 2
    assert spec["backoffLimitPerIndex"] >= 1  # a failed shard is retried alone
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert int(env["SHARDS"]["value"]) == spec["completions"]
    assert env["DB_URL"]["valueFrom"]["secretKeyRef"]["key"]  # the password never sits in the manifest
    command = " ".join(container["command"] + container.get("args", []))
    assert '--shard "$JOB_COMPLETION_INDEX/$SHARDS"' in command and "autograde" in command
    assert '--db-url "$DB_URL"' in command and '--course "$COURSE"' in command
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    course_path = env["COURSE"]["value"]
    assert any(course_path.startswith(path) for path in mounts), "the course folder is on a mounted volume"
    shared = volumes[next(mounts[p] for p in mounts if course_path.startswith(p))]
    assert "persistentVolumeClaim" in shared, "every pod sees the same course folder"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    # the README shows this very manifest
    readme = (REPO / "README.md").read_text()
    assert MANIFEST.read_text().strip() in readme
