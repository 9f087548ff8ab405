"""The benchmark's exercises: chapter 1 (numpy) and a small LSTM module (torch), each with a
seeded mix of submissions: about 60% correct, 25% with plausible mistakes, 15% broken."""
import random
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.course import Course, copy_course
from autograder.submissions import build_submission
from bench import lstm_exercise

# Plausible mistakes of chapter 1: (what, grade_id, answer cell as a student would type it).
CH01_MISTAKES = [
    ("scalar step without tanh", "rnn_step_scalar",
     "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return w_x * x_t + w_h * h_prev + b"),
    ("scalar step without bias", "rnn_step_scalar",
     "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return np.tanh(w_x * x_t + w_h * h_prev)"),
    ("batched step without biases", "rnn_step_forward",
     "def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\"):\n"
     "    h_next = activation(nonlinearity)(x_t @ W_ih.T + h_prev @ W_hh.T)\n"
     "    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)"),
    ("batched step always tanh", "rnn_step_forward",
     "def rnn_step_forward(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\"):\n"
     "    h_next = np.tanh(x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh)\n"
     "    return h_next, (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity)"),
    ("combined blocks swapped", "combine_weights",
     "def combine_weights(W_ih, W_hh):\n    return np.concatenate([W_hh, W_ih], axis=1)"),
    ("sequence in reversed time", "rnn_forward",
     "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\", batch_first=False):\n"
     "    if batch_first:\n        x = x.transpose(1, 0, 2)\n"
     "    h, hs, cache = h0, [], []\n"
     "    for x_t in x[::-1]:\n"
     "        h, c = rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)\n"
     "        hs.append(h)\n        cache.append(c)\n"
     "    out = np.stack(hs)\n"
     "    return (out.transpose(1, 0, 2) if batch_first else out), cache"),
    ("state not carried", "rnn_forward",
     "def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=\"tanh\", batch_first=False):\n"
     "    if batch_first:\n        x = x.transpose(1, 0, 2)\n"
     "    steps = [rnn_step_forward(x_t, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity) for x_t in x]\n"
     "    out = np.stack([h for h, _ in steps])\n"
     "    return (out.transpose(1, 0, 2) if batch_first else out), [c for _, c in steps]"),
    ("prediction from the first state", "many_to_one_forward",
     "def many_to_one_forward(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):\n"
     "    out, _ = rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)\n"
     "    return output_layer(out[0], V, c)"),
]

# Raises NameError when the cell runs, so rnn_forward is never defined.
RAISES_AT_DEFINITION = ("def rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity=DEFAULT_NONLINEARITY,\n"
                        "                batch_first=False):\n    return None, []")


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
            kinds.append(("wrong", " + ".join(m[0] for m in picks)))
        kinds += [("correct", "reference answers")] * (k - len(kinds))
        rng.shuffle(kinds)
        return {f"s{i + 1:03d}": kind for i, kind in enumerate(kinds)}

    def submission(self, course, kind, what):
        if kind == "wrong":
            answers = {gid: src for name, gid, src in self.mistakes if name in what.split(" + ")}
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


def _ch01_course(root):
    course = copy_course(Course(), Path(root))
    course.nbgrader("generate_assignment", "ch01_rnn_by_hand", "--force")
    return course


NUMPY = Exercise("numpy: ch01_rnn_by_hand", "ch01_rnn_by_hand", _ch01_course, CH01_MISTAKES, {
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

EXERCISES = {"numpy": NUMPY, "torch": TORCH}
