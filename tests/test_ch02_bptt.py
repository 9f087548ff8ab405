"""Chapter 2's exercise beyond what every assignment gets (tests/test_assignments.py and the
mutation gate, tests/test_mutants.py): its hidden checks called directly on plain functions
(no sandbox, so these tests take well under a second each), the mistakes the chapter is about
named in words, the cases the checks promise, and the learner's visible self-checks run in this
process: they pass on the reference with numpy alone, train, and stop what the grader cannot see
(an input array modified in place)."""
import re
import types

import numpy as np
import pytest
from conftest import release_cell_imports, run_release_cells

from autograder.checking import CheckFailed
from autograder.checks import ch02_bptt as checks
from autograder.course import Course
from autograder.mutants.ch02_bptt import BACKWARD, CLIP_NORM, DH_N
from autograder.mutation import edit
from autograder.submissions import solution_sources
from solutions import bptt

ASSIGNMENT = "ch02_bptt"
PARTS = list(Course().assignment(ASSIGNMENT).parts)


def _student(**answers):
    """The reference functions as a student object, with some replaced."""
    functions = {name: getattr(bptt, name) for name in dir(bptt) if not name.startswith("_")}
    return types.SimpleNamespace(**{**functions, **answers})


def _message(part, student):
    with pytest.raises(CheckFailed) as failure:
        getattr(checks, part)(student)
    return str(failure.value)


@pytest.mark.parametrize("part", PARTS)
def test_the_reference_passes_every_hidden_check(part):
    getattr(checks, part)(_student())


# ------------------------------------------------------------------ the chapter's mistakes, named
def _rnn_backward(carry=True, at=lambda dout, t: dout[t]):
    """rnn_backward as a student writes it, on the student's (here the reference) step."""
    def rnn_backward(dout, cache, dh_n=None):
        dh = np.zeros(cache[0][1].shape) if dh_n is None else dh_n
        dx, sums = [None] * len(cache), {}
        for t in reversed(range(len(cache))):
            step = bptt.rnn_step_backward((dh if carry else 0) + at(dout, t), cache[t])
            dx[t], dh = step["dx_t"], step["dh_prev"]
            for k in ("dW_ih", "dW_hh", "db_ih", "db_hh"):
                sums[k] = sums.get(k, 0) + step[k]
        return {"dx": np.array(dx), "dh0": dh, **sums}
    return rnn_backward


def test_a_hidden_gradient_that_is_not_accumulated_is_named():
    message = _message("test_rnn_backward", _student(rnn_backward=_rnn_backward(carry=False)))
    assert "the hidden-state gradient is not accumulated" in message
    assert "PLUS the dh_prev carried back from step t + 1" in message


def test_a_missing_tanh_derivative_is_named():
    def rnn_step_backward(dh_next, cache):
        x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
        dz = dh_next  # no (1 - h_next**2)
        return {"dx_t": dz @ W_ih, "dh_prev": dz @ W_hh, "dW_ih": dz.T @ x_t, "dW_hh": dz.T @ h_prev,
                "db_ih": dz.sum(0), "db_hh": dz.sum(0)}

    message = _message("test_rnn_step_backward", _student(rnn_step_backward=rnn_step_backward))
    assert "act'(z) is missing" in message and "1 - h_next**2" in message


def test_an_off_by_one_in_the_time_loop_is_named():
    message = _message("test_rnn_backward", _student(rnn_backward=_rnn_backward(at=lambda dout, t: dout[t - 1])))
    assert "off by one in the time loop: step t gets dout[t], not dout[t - 1]" in message


def test_a_mistake_that_explains_only_some_cases_is_not_named():
    """dh_n ignored only when the batch has one sequence: no known mistake explains it on every
    case, so the message quotes the numbers instead of naming a wrong mistake."""
    right = _rnn_backward()

    def rnn_backward(dout, cache, dh_n=None):
        return right(dout, cache, None if len(cache[0][0]) == 1 else dh_n)

    message = _message("test_rnn_backward", _student(rnn_backward=rnn_backward))
    assert "dh_n is ignored" not in message and "has wrong values" in message


def test_clipping_without_torchs_epsilon_is_accepted_and_why():
    """Fair by tolerance: every clipped case has a global norm above 0.5, so leaving out the 1e-6
    changes the result by less than 2e-6 relative, a fifth of rtol = 1e-5."""
    for case in checks._clip_cases():
        norm = bptt.global_norm(case["grads"])
        assert norm > 0.5 or norm <= case["max_norm"]

    def clip_grad_norm(grads, max_norm):
        norm = bptt.global_norm(grads)
        scale = max_norm / norm if norm > max_norm else 1.0
        return {k: g * scale for k, g in grads.items()}, norm

    checks.test_clipping(_student(clip_grad_norm=clip_grad_norm))


def test_the_checks_cases_leave_no_mistake_room_to_hide():
    """What the module docstring promises: D = H first, N = H somewhere, N > 1, both
    nonlinearities, float32, dh_n given and not given, T >= 3, non-zero h0."""
    steps = [c["cache"] for c in checks._step_cases()]
    x_t, h_prev, W_ih, W_hh, _, _ = steps[0]
    assert x_t.shape[1] == W_hh.shape[0], "the first step case is square (D = H)"
    assert any(c[0].shape[0] == c[3].shape[0] for c in steps), "some case has N = H"
    assert {c[5] for c in steps} == {"tanh", "relu"}
    assert any(c[0].dtype == np.float32 for c in steps)
    sequences = checks._sequence_cases()
    first = sequences[0]["cache"][0]
    assert first[0].shape[1] == first[3].shape[0] and first[0].shape[0] > 1
    assert {"dh_n" in c for c in sequences} == {True, False}
    assert any(len(c["cache"]) >= 3 and c["cache"][0][5] == "relu" for c in sequences)
    assert all(np.abs(c["cache"][0][1]).min() > 0 for c in sequences), "h0 is non-zero"
    assert any(c["dout"].dtype == np.float32 for c in sequences)


# ------------------------------------------------------------------ the visible self-checks
def test_self_checks_pass_on_the_reference_with_numpy_alone_and_the_run_trains():
    for cell, imports in release_cell_imports(ASSIGNMENT).items():
        assert imports <= {"numpy"}, f"cell {cell} imports {imports}"
    printed = run_release_cells(ASSIGNMENT)
    assert printed.count("✓") >= 40
    assert printed.count("match centred differences") + printed.count("matches centred differences") >= 10
    before, after = map(float, re.search(r"MSE before training: ([\d.]+); after \d+ updates: ([\d.]+)",
                                         printed).groups())
    assert after < before / 10, printed


def test_self_checks_stop_an_input_modified_in_place():
    """The grader's calls receive copies, so it cannot see this; the learner's self-checks can."""
    in_place = edit(BACKWARD, (DH_N, "    dh = np.zeros_like(h0, dtype=np.float64)\n"
                                      "    if dh_n is not None:\n        dout[-1] += dh_n\n"))
    with pytest.raises(AssertionError, match="rnn_backward changed the dout it was given, in place"):
        run_release_cells(ASSIGNMENT, {"rnn_backward": in_place})
    scaled_in_place = edit(CLIP_NORM, ("return {k: g * scale for k, g in grads.items()}, total",
                                        "for g in grads.values():\n        g *= scale\n    return grads, total"))
    with pytest.raises(AssertionError, match="clip_grad_norm changed the arrays it was given, in place"):
        run_release_cells(ASSIGNMENT, {"clip_grad_norm": scaled_in_place})


def test_self_checks_stop_a_wrong_gradient_no_hand_example_names():
    """A mistake that no hand example foresees (tanh's derivative written into dh_prev, right for
    tanh, wrong for relu where the hand example checks only dx_t and dW_hh) is still stopped: by the
    gradient check, which says which gradient is wrong."""
    wrong = edit(solution_sources(ASSIGNMENT)["rnn_step_backward"],
                  ('"dh_prev": dz @ W_hh,', '"dh_prev": (dh_next * (1 - h_next ** 2)) @ W_hh,'))
    with pytest.raises(AssertionError, match=r"nonlinearity='relu', N=3, D=2, H=4: dh_prev does not match "
                                             r"centred finite differences"):
        run_release_cells(ASSIGNMENT, {"rnn_step_backward": wrong})
