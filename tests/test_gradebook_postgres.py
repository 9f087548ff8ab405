"""The gradebook on a real PostgreSQL server (Debian's packages; .ci/run installs them)."""
import csv
import glob
import os
import shutil
import socket
import subprocess

import pytest

from conftest import build_submission, grade_submissions

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def postgres(tmp_path):
    if not PG_BIN or os.geteuid() != 0:
        pytest.skip("needs Debian's postgresql package and root (to run it as the postgres user)")
    import tempfile
    from pathlib import Path

    # pytest's tmp folders are private to root; the server runs as the postgres user
    data = Path(tempfile.mkdtemp(prefix="rnn-course-pg-")) / "data"
    data.mkdir()
    os.chmod(data.parent, 0o755)
    shutil.chown(data, "postgres")
    bin_dir, port = PG_BIN[-1], _free_port()
    run_as = ["runuser", "-u", "postgres", "--"]
    subprocess.run(run_as + [f"{bin_dir}/initdb", "-D", str(data), "-A", "trust", "-U", "postgres"],
                   check=True, capture_output=True)
    subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", str(data), "-w", "-l", str(data / "log"), "-o",
                             f"-p {port} -k /tmp -c listen_addresses=127.0.0.1", "start"], check=True, capture_output=True)
    try:
        subprocess.run(run_as + [f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "gradebook"],
                       check=True, capture_output=True)
        yield f"postgresql://postgres@127.0.0.1:{port}/gradebook"
    finally:
        subprocess.run(run_as + [f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(data.parent, ignore_errors=True)


def test_release_autograde_and_export_on_postgresql(postgres, released_course, tmp_path):
    from nbgrader.api import Gradebook

    from autograder.course import copy_course
    from autograder.feedback import write_feedback
    from autograder.grades import export_grades

    course = copy_course(released_course, tmp_path / "course", db_url=postgres)
    course.nbgrader("generate_assignment", "ch01_rnn_by_hand", "--force")
    results = grade_submissions(course, {"alice": build_submission(course), "bob": b""}, tmp_path)
    assert (results["alice"]["status"], results["alice"]["score"]) == ("graded", 12.0)
    assert results["bob"]["status"] == "unreadable"
    with Gradebook(postgres) as gb:  # an instructor's override, as formgrader writes it
        gb.find_grade("test_rnn_forward", "ch01_rnn_by_hand", "ch01_rnn_by_hand", "alice").manual_score = 1.5
        gb.db.commit()
    rows = {r["student"]: r for r in export_grades(course, tmp_path / "grades.csv")}
    assert rows["alice"]["score"] == 10.5 and rows["alice"]["test_rnn_forward"] == 1.5
    assert rows["bob"]["status"] == "unreadable"
    [page] = [p.read_text() for p in write_feedback(course, "ch01_rnn_by_hand") if p.parts[-3] == "alice"]
    assert "score: <b>10.5 / 14</b>" in page
    assert not (tmp_path / "course" / "gradebook.db").exists(), "everything went to PostgreSQL"
    course.nbgrader("export", "--to", str(tmp_path / "nbgrader.csv"))
    assert {r["student_id"] for r in csv.DictReader(open(tmp_path / "nbgrader.csv"))} == {"alice", "bob"}
