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
    from autograder.autograde import export_grades
    from autograder.course import Course

    shutil.copytree(released_course.path("source"), tmp_path / "course" / "source")
    shutil.copy(released_course.path("nbgrader_config.py"), tmp_path / "course" / "nbgrader_config.py")
    course = Course(tmp_path / "course", db_url=postgres)
    course.nbgrader("generate_assignment", "ch01_rnn_by_hand", "--force")
    results = grade_submissions(course, {"alice": build_submission(course), "bob": b""}, tmp_path)
    assert (results["alice"]["status"], results["alice"]["score"]) == ("graded", 12.0)
    assert results["bob"]["status"] == "unreadable"
    rows = {r["student"]: r for r in export_grades(course, tmp_path / "grades.csv")}
    assert rows["alice"]["score"] == 12.0 and rows["bob"]["status"] == "unreadable"
    assert not (tmp_path / "course" / "gradebook.db").exists(), "everything went to PostgreSQL"
    course.nbgrader("export", "--to", str(tmp_path / "nbgrader.csv"))
    assert {r["student_id"] for r in csv.DictReader(open(tmp_path / "nbgrader.csv"))} == {"alice", "bob"}
