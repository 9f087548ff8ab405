"""nbgrader's gradebook, where every score lives, and our outcome table beside it.

Every part's score, autograded or written, is a `Grade` row of nbgrader's gradebook, where
formgrader's overrides land too; `read_scores` is how the CSV and the feedback page read them.
The outcome table (`rnn_course_outcome`, same database) holds only what the gradebook cannot:
each submission's status and its reason, its maximum score, when it was graded and the names of
its autograded parts in order. It holds no score.
"""
import contextlib
import datetime
import json
import sys
import time
import warnings
from dataclasses import dataclass

from autograder.received import DETAIL_CHARS, cap

OUTCOME_TABLE = "rnn_course_outcome"


@dataclass(frozen=True)
class GradeScore:
    """One part's grade as nbgrader keeps it."""

    score: float  # what counts: nbgrader's Grade.score, the instructor's score when one is set
    auto_score: float | None
    manual_score: float | None

    @property
    def set_by_instructor(self):
        return self.manual_score is not None

    @property
    def graded(self):
        return self.auto_score is not None or self.manual_score is not None


@dataclass(frozen=True)
class Outcome:
    """One row of the outcome table."""

    assignment: str
    student: str
    status: str
    max_score: float
    parts: tuple  # the autograded parts' grade_ids, in notebook order
    detail: str
    graded_at: datetime.datetime


def total_score(scores):
    """The submission's score: the sum of its gradebook scores (the CSV and the page both use this)."""
    return round(sum(s.score for s in scores.values()), 4)


def read_scores(gb, assignment):
    """{student: {grade_id: GradeScore}} for every submission of ``assignment``, in one query.

    gb: an open nbgrader Gradebook. Grade ids are unique within a notebook, and each of our
    assignments is one notebook.
    """
    from nbgrader.api import Assignment, BaseCell, Grade, SubmittedAssignment, SubmittedNotebook

    rows = (gb.db.query(SubmittedAssignment.student_id, BaseCell.name, Grade.score, Grade.auto_score,
                        Grade.manual_score)
            .select_from(Grade)
            .join(BaseCell, Grade.cell_id == BaseCell.id)
            .join(SubmittedNotebook, Grade.notebook_id == SubmittedNotebook.id)
            .join(SubmittedAssignment, SubmittedNotebook.assignment_id == SubmittedAssignment.id)
            .join(Assignment, SubmittedAssignment.assignment_id == Assignment.id)
            .filter(Assignment.name == assignment)
            .order_by(SubmittedAssignment.student_id, BaseCell.name))
    scores = {}
    for student, grade_id, score, auto_score, manual_score in rows:
        scores.setdefault(student, {})[grade_id] = GradeScore(float(score), auto_score, manual_score)
    return scores


# ----------------------------------------------------------------------------- outcome table
def _outcome_table(metadata):
    from sqlalchemy import Column, DateTime, Float, String, Table, Text

    return Table(OUTCOME_TABLE, metadata,
                 Column("assignment", String(128), primary_key=True),
                 Column("student", String(128), primary_key=True),
                 Column("status", String(32), nullable=False),
                 Column("max_score", Float, nullable=False),
                 Column("parts", Text, nullable=False),  # JSON list of the autograded parts' grade_ids
                 Column("detail", Text, nullable=False),
                 Column("graded_at", DateTime, nullable=False))


def open_outcome_table(db):
    """The outcome table in the database of engine ``db``, created or upgraded as needed.

    CREATE TABLE IF NOT EXISTS, not metadata.create_all (which checks, then creates): two shards
    opening a fresh gradebook at once would both find no table and one CREATE TABLE would fail.
    """
    from sqlalchemy import MetaData
    from sqlalchemy.schema import CreateTable

    table = _outcome_table(MetaData())
    with db.begin() as conn:
        conn.execute(CreateTable(table, if_not_exists=True))
    _drop_score_copies(db, table)
    return table


def _drop_score_copies(db, table):
    """Upgrade a table written before the gradebook became the one truth for scores.

    It had a `score` column and `parts` as {grade_id: score}: keep the names, drop the copies.
    Each step can be run again, so an upgrade cut short finishes next time.
    """
    from sqlalchemy import inspect, select, text, update

    if "score" not in {c["name"] for c in inspect(db).get_columns(OUTCOME_TABLE)}:
        return
    with db.begin() as conn:
        for row in conn.execute(select(table.c.assignment, table.c.student, table.c.parts)).all():
            names = json.dumps(list(json.loads(row.parts)))
            conn.execute(update(table).where(table.c.assignment == row.assignment, table.c.student == row.student)
                         .values(parts=names))
        conn.execute(text(f"ALTER TABLE {OUTCOME_TABLE} DROP COLUMN score"))


def read_outcomes(db_url):
    """Every row of the outcome table, by assignment then student."""
    from sqlalchemy import create_engine, select

    db = create_engine(db_url)
    try:
        table = open_outcome_table(db)
        with db.connect() as conn:
            rows = conn.execute(select(table).order_by(table.c.assignment, table.c.student)).all()
    finally:
        db.dispose()
    return [Outcome(**{**row._mapping, "parts": tuple(json.loads(row.parts))}) for row in rows]


# ----------------------------------------------------------------------------- recording
SCHEMA_LOCK = 0x726E6E  # any constant: the PostgreSQL advisory lock every shard takes to create tables


@contextlib.contextmanager
def schema_lock(db):
    """Hold PostgreSQL's advisory lock SCHEMA_LOCK (other databases: nothing to hold).

    nbgrader's Gradebook() creates missing tables by checking, then running CREATE TABLE, which
    two processes doing it at once can both attempt (one then fails on a duplicate name); and on
    PostgreSQL even open_outcome_table's CREATE TABLE IF NOT EXISTS is not safe against a
    concurrent one (both can pass the check; one then fails on a duplicate type). On SQLite,
    CREATE TABLE IF NOT EXISTS runs under the database's write lock, which makes it safe; nbgrader's
    tables are there before any shard starts (the release, run once, creates them).
    """
    from sqlalchemy import text

    if db.dialect.name != "postgresql":
        yield
        return
    with db.connect() as conn:
        conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK})
        try:
            yield
        finally:
            conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK})


def upsert(table, row, dialect):
    """Statements that insert ``row`` into the outcome table or replace the row with its key.

    PostgreSQL and SQLite: one INSERT ... ON CONFLICT DO UPDATE, atomic even when another writer
    holds the same key; elsewhere a DELETE then an INSERT in the caller's transaction.
    """
    from sqlalchemy import delete, insert

    if dialect in ("postgresql", "sqlite"):
        from importlib import import_module

        statement = import_module(f"sqlalchemy.dialects.{dialect}").insert(table).values(**row)
        keys = [table.c.assignment, table.c.student]
        return [statement.on_conflict_do_update(
            index_elements=keys, set_={k: v for k, v in row.items() if k not in ("assignment", "student")})]
    return [delete(table).where(table.c.assignment == row["assignment"], table.c.student == row["student"]),
            insert(table).values(**row)]


def _auto_score(result, grade_id):
    """What the autograder puts in a Grade's auto_score: None leaves it to the instructor."""
    if grade_id in result.parts:
        return result.parts[grade_id].score
    if grade_id in result.manual and result.status != "unreadable":
        return None
    return 0.0  # a cell we do not grade, or a written answer in a file that could not be read


class Recorder:
    """Writes each result's scores into nbgrader's gradebook and its outcome into our table.

    Importing nbgrader takes seconds: `prepare` does it in a thread while the workers start,
    and the gradebook is opened on the first result.
    """

    def __init__(self, course, students=()):
        self.course, self.gb = course, None
        self.students = list(students)  # created up front, in one commit, when the gradebook opens
        self._importing = None
        self.failed = []  # (student, error): results the gradebook would not take
        self.written, self.write_seconds = 0, 0.0  # results recorded, seconds spent recording

    def prepare(self):
        """Import nbgrader's gradebook in the background (call once the workers are forked)."""
        import threading

        def load():
            import nbgrader.api  # noqa: F401
            import sqlalchemy  # noqa: F401

        self._importing = threading.Thread(target=load, daemon=True)
        self._importing.start()

    def __enter__(self):
        return self

    def _open(self):
        from nbgrader.api import Gradebook
        from sqlalchemy import create_engine
        from sqlalchemy.exc import SAWarning

        self.db = create_engine(self.course.db_url)
        with schema_lock(self.db):  # shards starting at once create nbgrader's tables and ours once
            self.gb = Gradebook(self.course.db_url)
            self.table = open_outcome_table(self.db)
        self._add_students()
        # nbgrader's update_or_create_submission trips SQLAlchemy autoflush warnings (harmless)
        self.warnings = warnings.catch_warnings()
        self.warnings.__enter__()
        warnings.simplefilter("ignore", SAWarning)

    def _add_students(self):
        """Create the students the gradebook lacks in one commit, where nbgrader's add_student
        commits once per student: a commit waits for the disk, and there are three per result."""
        from nbgrader.api import Student

        try:
            for start in range(0, len(self.students), 500):
                chunk = self.students[start:start + 500]
                known = {sid for (sid,) in self.gb.db.query(Student.id).filter(Student.id.in_(chunk))}
                self.gb.db.add_all(Student(id=sid) for sid in chunk if sid not in known)
            self.gb.db.commit()
        except Exception:  # e.g. another run created one meanwhile: each result creates its own
            self.gb.db.rollback()

    def add(self, result):
        if self.gb is None:
            if self._importing is not None:
                self._importing.join()
            self._open()
        started = time.monotonic()
        try:
            self._save_scores(result)
            self._save_outcome(result)
            self.gb.db.commit()  # the scores and the outcome of a result land together, or neither
            self.written += 1
        except Exception as exc:  # one result the database refuses never stops the others
            self.gb.db.rollback()
            self.failed.append((result.student, f"{type(exc).__name__}: {exc}"))
            print(f"\nerror: the result of {result.student} could not be written to the gradebook "
                  f"({type(exc).__name__}: {exc}); it is in its result.json", file=sys.stderr)
        finally:
            self.write_seconds += time.monotonic() - started

    def _save_scores(self, result):
        self.gb.update_or_create_student(result.student)
        submission = self.gb.update_or_create_submission(result.assignment, result.student)
        for notebook in submission.notebooks:
            for grade in notebook.grades:
                grade.auto_score = _auto_score(result, grade.name)
                # as nbgrader's own autograder does: a grade the instructor had set, or one only
                # the instructor can give, is flagged for review in formgrader
                grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None

    def _save_outcome(self, result):
        """Insert or replace the outcome row, in the gradebook session's transaction."""
        now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
        row = dict(assignment=result.assignment, student=result.student, status=result.status,
                   max_score=result.max_score, parts=json.dumps(list(result.parts)),
                   detail=cap(result.detail, DETAIL_CHARS),  # capped and writable, whoever made the result
                   graded_at=now)
        for statement in upsert(self.table, row, self.db.dialect.name):
            self.gb.db.execute(statement)

    def __exit__(self, *exc):
        if self.gb is not None:
            self.gb.close()
            self.db.dispose()
            self.warnings.__exit__(None, None, None)
        return False
