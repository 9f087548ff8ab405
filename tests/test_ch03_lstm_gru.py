"""Chapter 3's exercise beyond what every assignment gets (tests/test_assignments.py and the
mutation gate, tests/test_mutants.py): its hidden checks called directly on plain functions
(no sandbox), the mistakes the chapter is about named in words (gates in another order, a missing
forget gate, tanh and sigmoid mixed up, the GRU's reset gate in the wrong place), the cases the
checks promise, and the learner's visible self-checks run in this process with numpy alone."""
import re
import types

import numpy as np
import pytest
from conftest import release_cell_imports, run_release_cells

from autograder.checking import CheckFailed
from autograder.checks import ch03_lstm_gru as checks
from autograder.course import Course
from autograder.mutants.ch03_lstm_gru import BACKWARD, GRU, STEP
from autograder.mutation import edit
from solutions import lstm

ASSIGNMENT = "ch03_lstm_gru"
PARTS = list(Course().assignment(ASSIGNMENT).parts)


def _student(**answers):
    """The reference functions as a student object, with some replaced."""
    functions = {name: getattr(lstm, name) for name in dir(lstm) if not name.startswith("_")}
    return types.SimpleNamespace(**{**functions, **answers})


def _message(part, student):
    with pytest.raises(CheckFailed) as failure:
        getattr(checks, part)(student)
    return str(failure.value)


def _defined(source, name, **extra):
    """The function `name` defined by a student's cell `source` (numpy and sigmoid in scope)."""
    space = {"np": np, "sigmoid": lstm.sigmoid, **extra}
    exec(source, space)
    return space[name]


@pytest.mark.parametrize("part", PARTS)
def test_the_reference_passes_every_hidden_check(part):
    getattr(checks, part)(_student())


# ------------------------------------------------------------------ the chapter's mistakes, named
@pytest.mark.parametrize("split, words", [
    ("a_i, a_f, a_o, a_g", "CS231n's order i, f, o, g"),
    ("a_f, a_i, a_g, a_o", "the input and forget gates are swapped"),
    ("a_o, a_f, a_g, a_i", "the gates i and o are swapped"),
    ("a_i, a_o, a_g, a_f", "the gates f and o are swapped"),
])
def test_swapped_gates_are_named(split, words):
    wrong = edit(STEP, ("a_i, a_f, a_g, a_o = np.split", f"{split} = np.split"))
    message = _message("test_lstm_step_forward", _student(lstm_step_forward=_defined(wrong, "lstm_step_forward")))
    assert words in message and "i, f, g, o" in message, message


def test_keras_order_is_torchs_and_passes():
    """Keras's i, f, c, o is torch's i, f, g, o under another name: the same code passes."""
    keras = edit(STEP, ("a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)", "a_i, a_f, a_c, a_o = np.split(a, 4, axis=1)"),
                 ("np.tanh(a_g)", "np.tanh(a_c)"))
    checks.test_lstm_step_forward(_student(lstm_step_forward=_defined(keras, "lstm_step_forward")))


def test_a_missing_forget_gate_is_named():
    wrong = edit(STEP, ("c_next = f * c_prev + i * g", "c_next = i * g"))
    message = _message("test_lstm_step_forward", _student(lstm_step_forward=_defined(wrong, "lstm_step_forward")))
    assert "the forget gate is missing: c_next = f * c_prev + i * g" in message
    backward = edit(BACKWARD, ('"dc_prev": dc * f', '"dc_prev": dc'))
    message = _message("test_lstm_step_backward",
                       _student(lstm_step_backward=_defined(backward, "lstm_step_backward")))
    assert "dc_prev misses the forget gate" in message


@pytest.mark.parametrize("changes, words", [
    ([("np.tanh(a_g)", "sigmoid(a_g)")], "g uses the sigmoid"),
    ([("sigmoid(a_o)", "np.tanh(a_o)")], "the output gate uses tanh"),
    ([("h_next = o * np.tanh(c_next)", "h_next = o * c_next")], "tanh(c) is missing in h"),
    ([("h_next = o * np.tanh(c_next)", "h_next = o * np.tanh(c_prev)")], "h uses the old cell state c_prev"),
])
def test_tanh_and_sigmoid_mix_ups_are_named(changes, words):
    wrong = edit(STEP, *changes)
    message = _message("test_lstm_step_forward", _student(lstm_step_forward=_defined(wrong, "lstm_step_forward")))
    assert words in message, message


def test_the_grus_reset_placement_is_named_both_ways():
    cho = edit(GRU, ("        a_hn = h_prev @ W_hh[2 * H:].T + b_hh[2 * H:]\n        n = np.tanh(a_x[:, 2 * H:] + r * a_hn)",
                     "        a_hn = (r * h_prev) @ W_hh[2 * H:].T + b_hh[2 * H:]\n        n = np.tanh(a_x[:, 2 * H:] + a_hn)"))
    message = _message("test_gru_step_forward", _student(gru_step_forward=_defined(cho, "gru_step_forward")))
    assert "the reset gate is applied before the matrix product" in message and "Cho et al." in message
    assert "reset_after=True" in message  # the failing call's inputs
    torch_only = edit(GRU, ("    if reset_after:\n", "    if True:\n"))
    message = _message("test_gru_step_forward", _student(gru_step_forward=_defined(torch_only, "gru_step_forward")))
    assert "reset_after=False is ignored" in message
    swapped = edit(GRU, ("h_next = (1.0 - z) * n + z * h_prev", "h_next = z * n + (1.0 - z) * h_prev"))
    message = _message("test_gru_step_forward", _student(gru_step_forward=_defined(swapped, "gru_step_forward")))
    assert "z and 1 - z are swapped" in message


def test_a_mistake_that_explains_only_some_cases_is_not_named():
    """The forget gate dropped only for float32 inputs: no known mistake explains every case, so the
    message quotes the numbers instead of naming a wrong mistake."""
    def lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
        h, c, cache = lstm.lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)
        if x_t.dtype == np.float32:
            i, f, g, o = cache[5]
            c = i * g
            h = o * np.tanh(c)
        return h, c, cache

    message = _message("test_lstm_step_forward", _student(lstm_step_forward=lstm_step_forward))
    assert "forget gate is missing" not in message and "has wrong values" in message


def test_the_checks_cases_leave_no_mistake_room_to_hide():
    """What the module docstring promises: D != H first, D = H and N = H somewhere, H > 1, float32,
    batch_first both ways with N = T and N != T, T = 1, reset_after both ways and omitted."""
    steps = checks._step_cases()
    assert steps[0]["x_t"].shape[1] != steps[0]["h_prev"].shape[1]
    assert any(c["x_t"].shape[1] == c["h_prev"].shape[1] for c in steps)
    assert any(c["x_t"].shape[0] == c["h_prev"].shape[1] for c in steps)
    assert all(c["h_prev"].shape[1] > 1 for c in steps) and any(c["x_t"].dtype == np.float32 for c in steps)
    assert all(np.abs(c[k]).min() > 0 for c in steps for k in ("h_prev", "c_prev", "b_ih", "b_hh"))
    sequences = checks._sequence_cases()
    layouts = {(c.get("batch_first", False), c["x"].shape[0] == c["x"].shape[1]) for c in sequences}
    assert {(True, True), (True, False), (False, False)} <= layouts
    assert any("batch_first" not in c for c in sequences) and any(c["x"].shape[0] == 1 for c in sequences)
    assert any(c["x"].dtype == np.float32 for c in sequences)
    grus = checks._gru_cases()
    assert {c.get("reset_after") for c in grus} == {True, False, None}
    backward = checks._backward_cases()
    assert any(not np.any(c["dc_next"]) for c in backward) and any(np.any(c["dc_next"]) for c in backward)


# ------------------------------------------------------------------ the visible self-checks
def test_self_checks_pass_on_the_reference_with_numpy_alone():
    for cell, imports in release_cell_imports(ASSIGNMENT).items():
        assert imports <= {"numpy"}, f"cell {cell} imports {imports}"
    printed = run_release_cells(ASSIGNMENT)
    assert printed.count("✓") >= 25
    assert printed.count("match centred differences") == 2


def test_the_cell_path_run_shows_long_and_short_memory():
    """The ungraded run: with forget gates near 1 the gradient along the cell is still of order
    0.1-1 after 40 steps; near 0 it has vanished."""
    printed = run_release_cells(ASSIGNMENT)
    norms = [float(v) for v in re.findall(r"lag k = 40: norm ([\d.e+-]+)", printed)]
    assert len(norms) == 2 and norms[0] > 0.1 and norms[1] < 1e-20, printed


@pytest.mark.parametrize("wrong, words", [
    (edit(STEP, ("a_i, a_f, a_g, a_o = np.split", "a_i, a_f, a_o, a_g = np.split")), "CS231n's order"),
    (edit(STEP, ("c_next = f * c_prev + i * g", "c_next = i * g")), "the forget gate is missing"),
    (edit(STEP, ("np.tanh(a_g)", "sigmoid(a_g)")), "g uses the sigmoid"),
])
def test_self_checks_name_the_chapters_mistakes(wrong, words):
    with pytest.raises(AssertionError, match=re.escape(words)):
        run_release_cells(ASSIGNMENT, {"lstm_step_forward": wrong})


def test_self_checks_stop_a_wrong_gradient_no_hand_example_names():
    """A mistake that no hand example foresees (dx_t doubled whenever the batch has more than one
    sequence: the hand example has N = 1) is still stopped by the gradient check, which says which
    gradient is wrong."""
    wrong = edit(BACKWARD, ('"dx_t": da @ W_ih,', '"dx_t": da @ W_ih * (1 + (len(da) > 1)),'))
    with pytest.raises(AssertionError, match=r"N=3, D=2, H=3: dx_t does not match centred finite differences"):
        run_release_cells(ASSIGNMENT, {"lstm_step_backward": wrong})
