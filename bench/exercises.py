"""The benchmark's exercises: chapter 1 (numpy), a small LSTM module (torch) and chapter 5 (numpy
and torch, torch preloaded), each with a seeded mix of submissions: about 60% correct, 25% with
plausible mistakes, 15% broken."""
import random
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course, copy_course
from autograder.mutants import ch01_rnn_by_hand as ch01_mutants
from autograder.mutants import ch05_seq2seq as ch05_mutants
from autograder.submissions import build_submission
from bench import lstm_exercise


def _mistakes(mutants):
    """Plausible mistakes, (what, grade_id, answer cell), from a chapter's mutation gate's list:
    its mutants that change one answer cell."""
    return [(m.name, *next(iter(m.answers.items()))) for m in mutants if len(m.answers) == 1]


CH01_MISTAKES = _mistakes(ch01_mutants.MUTANTS)
CH05_MISTAKES = _mistakes(ch05_mutants.MUTANTS)

# Raises NameError when the cell runs, so rnn_forward is never defined.
RAISES_AT_DEFINITION = ("def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=DEFAULT_NONLINEARITY,\n"
                        "                batch_first=False):\n    return None, []")


MISTAKE_JOIN = " & "  # between the names of two mistakes in one submission


def _invalid_json(course, name):
    text = nbformat.writes(build_submission(course, assignment=name))
    return text[: len(text) // 2].encode()


def _blank(course, name):
    return nbformat.read(course.release_notebook(name), as_version=4)


def _cell_deleted(grade_id):
    def broken(course, name):
        nb = build_submission(course, assignment=name)
        nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
        return nb
    return broken


def _raises_at_definition(grade_id, source):
    return lambda course, name: build_submission(course, {grade_id: source}, name)


@dataclass
class Exercise:
    label: str  # the row's name in the table
    name: str  # the assignment
    make_course: object  # root -> a released Course
    mistakes: list  # (what, grade_id, source)
    broken: dict = field(default_factory=dict)  # what -> (course, name) -> notebook or bytes

    def full_marks(self, course):
        return course.assignment(self.name).auto_points

    def plan(self, k, seed):
        """student -> (kind, what), shuffled."""
        rng = random.Random(seed)
        n_broken, n_wrong = round(0.15 * k), round(0.25 * k)
        broken = sorted(self.broken)
        kinds = [("broken", broken[i % len(broken)]) for i in range(n_broken)]
        for _ in range(n_wrong):
            picks = rng.sample(self.mistakes, rng.choice([1, 2]))
            while len({m[1] for m in picks}) < len(picks):  # two mistakes in one cell: keep one
                picks = picks[:1]
            kinds.append(("wrong", MISTAKE_JOIN.join(m[0] for m in picks)))
        kinds += [("correct", "reference answers")] * (k - len(kinds))
        rng.shuffle(kinds)
        return {f"s{i + 1:03d}": kind for i, kind in enumerate(kinds)}

    def submission(self, course, kind, what):
        if kind == "wrong":
            answers = {gid: src for name, gid, src in self.mistakes if name in what.split(MISTAKE_JOIN)}
            return build_submission(course, answers, self.name)
        if kind == "broken":
            return self.broken[what](course, self.name)
        return build_submission(course, assignment=self.name)

    def write_submissions(self, course, planned):
        for student, (kind, what) in planned.items():
            folder = course.path("submitted", student, self.name)
            folder.mkdir(parents=True)
            content = self.submission(course, kind, what)
            path = folder / f"{self.name}.ipynb"
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                nbformat.write(content, str(path))


def _released(name):
    """root -> a copy of the course with assignment ``name`` released."""
    def make_course(root):
        course = copy_course(Course(), Path(root))
        course.nbgrader("generate_assignment", name, "--force")
        return course
    return make_course


NUMPY = Exercise("numpy: ch01_rnn_by_hand", "ch01_rnn_by_hand", _released("ch01_rnn_by_hand"), CH01_MISTAKES, {
    "invalid JSON": _invalid_json,
    "answer cell raises at definition": _raises_at_definition("rnn_forward", RAISES_AT_DEFINITION),
    "blank release notebook": _blank,
    "answer cell deleted": _cell_deleted("rnn_step_combined"),
})

TORCH = Exercise("torch: bench_lstm", lstm_exercise.NAME, lstm_exercise.write_course, lstm_exercise.MISTAKES, {
    "invalid JSON": _invalid_json,
    "blank release notebook": _blank,
    "answer cell deleted": _cell_deleted("lstm_sequence"),
})

CH05 = Exercise("numpy+torch: ch05_seq2seq", "ch05_seq2seq", _released("ch05_seq2seq"), CH05_MISTAKES, {
    "invalid JSON": _invalid_json,
    "answer cell raises at definition": _raises_at_definition(  # NameError: decode is never defined
        "decode", "def decode(step, state, first, horizon, targets=NO_TARGETS):\n    return None"),
    "blank release notebook": _blank,
    "answer cell deleted": _cell_deleted("make_windows"),
})

EXERCISES = {"numpy": NUMPY, "torch": TORCH, "ch05": CH05}
