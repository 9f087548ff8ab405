"""Chapter 5's exercise (ch05_seq2seq): the four graded reference functions against independent
computations (hand values, the Seq2Seq class's fused teacher-forced decoder), the hidden checks
called directly, and the visible self-checks run in-process. Torch single-threaded."""
import re

import numpy as np
import pytest
from conftest import release_cell_imports, run_release_cells
from conftest import seq2seq_model as _seq2seq

from autograder.checking import CheckFailed
from autograder.course import Course
from autograder.mutants.ch05_seq2seq import DECODE, MASE, RECURSIVE, WINDOWS
from autograder.mutation import edit
from autograder.student import KernelStudent
from solutions import forecast as F

RTOL = 1e-10  # float64 comparisons


# ----------------------------------------------------------------------------- the references
def test_make_windows_by_hand():
    y = np.array([10.0, 11, 12, 13, 14, 15, 16])
    X, Y = F.make_windows(y, window=3, horizon=2, stop=6)  # starts 0, 1: 1 + 3 + 2 = 6
    np.testing.assert_array_equal(X, [[10, 11, 12], [11, 12, 13]])
    np.testing.assert_array_equal(Y, [[13, 14], [14, 15]])
    X, Y = F.make_windows(y, 3, 2)  # stop = len(y): one more window
    np.testing.assert_array_equal(Y[-1], [15, 16])
    X, Y = F.make_windows(y, 2, 1, stride=2)  # starts 0, 2, 4
    np.testing.assert_array_equal(X[:, 0], [10, 12, 14])
    X, Y = F.make_windows(y, 5, 3, stop=7)  # 5 + 3 > 7: no window at all
    assert X.shape == (0, 5) and Y.shape == (0, 3)
    poisoned = y.copy()
    poisoned[6:] = np.nan  # nothing at or after stop may be read
    assert np.all(np.isfinite(F.make_windows(poisoned, 3, 2, stop=6)[1]))


def test_mase_by_hand():
    x = np.array([1.0, 3.0, 2.0, 5.0, 4.0])  # m = 2: |2-1|, |5-3|, |4-2| -> 5/3
    y, f = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 2.0])  # MAE 1
    assert F.mase(y, f, x, 2) == pytest.approx(3 / 5, rel=RTOL)
    assert F.mase(y, f, x, 1) == pytest.approx(4 / 7, rel=RTOL)  # naive scale (2+1+3+1)/4
    assert F.mase(np.stack([y, f]), np.stack([f, f]), x, 2) == pytest.approx([3 / 5, 0])


def test_decode_by_hand(torch, S):
    """step: pred = 2 prev + state, state counts steps; first = 1, h = 3."""
    def step(prev, state):
        return 2 * prev + state, state + 1
    first = torch.ones(1, 1, 1)
    free = S.decode(step, torch.zeros(1, 1, 1), first, 3)
    torch.testing.assert_close(free, torch.tensor([[2.0, 5.0, 12.0]]))  # 2*1+0, 2*2+1, 2*5+2
    y = torch.tensor([[10.0, 20.0, 30.0]])  # teacher forcing: inputs 1, 10, 20
    forced = S.decode(step, torch.zeros(1, 1, 1), first, 3, targets=y)
    torch.testing.assert_close(forced, torch.tensor([[2.0, 21.0, 42.0]]))


def test_decode_is_the_seq2seq_decoder_both_ways(torch, S):
    model = _seq2seq(torch, S)
    rng = np.random.default_rng(0)
    x, y = torch.tensor(rng.normal(size=(3, 6, 1))), torch.tensor(rng.normal(size=(3, 4)))
    first = x[:, -1:, :1]
    forced = S.decode(model.decode_step, model.encode(x), first, 4, targets=y)
    torch.testing.assert_close(forced, model.train_forward(x, y), rtol=RTOL, atol=1e-12)  # fused
    with torch.no_grad():
        free = S.decode(model.decode_step, model.encode(x), first, 4)
        state, prev, preds = model.encode(x), first, []
        for _ in range(4):  # the free-running loop written out
            out, state = model.decoder(prev, state)
            prev = model.head(out)
            preds.append(prev[:, 0, 0])
    torch.testing.assert_close(free, torch.stack(preds, dim=1), rtol=RTOL, atol=1e-12)
    torch.testing.assert_close(model(x, 4), free.detach(), rtol=RTOL, atol=1e-12)


def test_forecast_recursive_feeds_its_own_predictions_in_eval_mode(torch, S):
    torch.manual_seed(0)
    one = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(4, 1))
    one = one.double().train()
    x = torch.tensor([[[1.0], [2.0], [3.0], [4.0]]], dtype=torch.float64)
    w, b = one[2].weight[0].detach(), one[2].bias.detach()
    window, expected = [1.0, 2.0, 3.0, 4.0], []
    for _ in range(3):  # by hand, no dropout: each prediction enters the window
        p = float(torch.tensor(window, dtype=torch.float64) @ w + b)
        expected.append(p)
        window = window[1:] + [p]
    got = S.forecast_recursive(one, x, 3)
    torch.testing.assert_close(got, torch.tensor([expected], dtype=torch.float64))
    assert one.training and not got.requires_grad  # mode restored, no graph kept


# ----------------------------------------------------------------------------- the hidden checks

ASSIGNMENT = "ch05_seq2seq"
PARTS = list(Course().assignment(ASSIGNMENT).parts)


@pytest.fixture(scope="module")
def checks(torch):
    torch.set_num_threads(1)
    from autograder.checks import ch05_seq2seq
    return ch05_seq2seq


def _student(S, *, with_torch=True, **answers):
    """The reference functions (and the notebook's given models and torch) as a student, some
    replaced: a namespace run in this process through the grader's own codec, so the checks get
    plain data and handles (Remotes) exactly as from the sandbox."""
    import torch

    names = ("make_windows", "mase")
    functions = {**{n: getattr(F, n) for n in names},
                 **{n: getattr(S, n) for n in ("decode", "forecast_recursive", "one_step_model", "seeded_decoder")}}
    return KernelStudent({**functions, **({"torch": torch} if with_torch else {}), **answers})


def _defined(source, name, torch):
    space = {"np": np, "torch": torch, "nn": torch.nn}
    exec(source, space)
    return space[name]


def _message(checks, part, student):
    with pytest.raises(CheckFailed) as failure:
        getattr(checks, part)(student)
    return str(failure.value)


@pytest.mark.parametrize("part", PARTS)
def test_the_reference_passes_every_hidden_check(checks, S, part):
    getattr(checks, part)(_student(S))


@pytest.mark.parametrize("cell, changes, part, words", [
    ("make_windows", [("horizon + 1, stride)", "horizon + 2, stride)")], "test_make_windows", "reads past stop"),
    ("make_windows", [("stop = len(y) if stop is None else stop", "stop = len(y)")], "test_make_windows",
     "reads past stop"),
    ("mase", [("x[period:] - x[:-period]", "x[1:] - x[:-1]")], "test_mase", "naive forecast's error (lag 1)"),
    ("mase", [("x[period:] - x[:-period]", "y[period:] - y[:-period]")], "test_mase",
     "test part's own seasonal differences"),
    ("mase", [(", axis=-1) / scale", ") / scale")], "test_mase", "averaged over every axis"),
    ("decode", [("targets[:, k, None, None]", "targets[:, min(k + 1, horizon - 1), None, None]")], "test_decode",
     "the very value it predicts"),
    ("forecast_recursive", [("    model.eval()  # dropout off: a forecast is not a random draw\n", "")],
     "test_forecast_recursive", "training mode"),
    ("forecast_recursive", [("    model.train(was_training)\n", "")], "test_forecast_recursive",
     "does not restore"),
])
def test_the_chapters_mistakes_are_named(checks, S, torch, cell, changes, part, words):
    source = {"make_windows": WINDOWS, "mase": MASE, "decode": DECODE, "forecast_recursive": RECURSIVE}[cell]
    wrong = _defined(edit(source, *changes), cell, torch)
    assert words in _message(checks, part, _student(S, **{cell: wrong}))


def test_a_decoder_that_peeks_too_little_for_the_values_is_stopped_by_the_causal_check(checks, S, torch):
    """Step k fed targets[:, k - 1] plus a trace (2e-6) of y_k: its values pass the comparison
    (rtol 1e-5), but y_k reaches prediction k, which check_causal sees."""
    def decode(step, state, first, horizon, targets=None):
        prev, preds = first, []
        for k in range(horizon):
            if targets is not None and k > 0:
                prev = (targets[:, k - 1] + 2e-6 * targets[:, k])[:, None, None]
            pred, state = step(prev, state)
            preds.append(pred)
            prev = pred
        return torch.cat(preds, dim=1)[..., 0]

    message = _message(checks, "test_decode", _student(S, decode=decode))
    assert "reads the future" in message and "the very value it predicts" in message, message


def test_detached_predictions_are_named_by_the_gradient_taken_in_the_students_process(checks, S, torch):
    """torch.func.jacrev of the student's decode, run through the student's own torch: predictions
    with the right values but no gradient are named."""
    wrong = _defined(edit(DECODE, ("preds.append(pred)", "preds.append(pred.detach())")), "decode", torch)
    message = _message(checks, "test_decode", _student(S, decode=wrong))
    assert "the predictions are detached" in message and "(with targets given" in message, message


def test_no_verdict_on_the_gradient_when_the_transform_cannot_run_the_students_code(checks, S, torch):
    """A decode that torch.func cannot transform (it reads a prediction through numpy) has had its
    values checked: it passes, as does a detached decode where the notebook has no torch to
    transform with."""
    def decode(step, state, first, horizon, targets=None):
        prev, preds = first, []
        for k in range(horizon):
            pred, state = step(prev, state)
            if not np.isfinite(pred.detach().numpy()).all():  # no storage under torch.func: jacrev raises
                raise ValueError("the decoder diverged")
            preds.append(pred)
            prev = pred if targets is None else targets[:, k, None, None]
        return torch.cat(preds, dim=1)[..., 0]

    student = _student(S, decode=decode)
    assert checks._gradient_to_state(student, student.seeded_decoder(4, 0), checks._decode_cases()[0]) is None
    checks.test_decode(student)
    detached = _defined(edit(DECODE, ("preds.append(pred)", "preds.append(pred.detach())")), "decode", torch)
    checks.test_decode(_student(S, with_torch=False, decode=detached))


def test_a_mistake_that_explains_only_some_cases_is_not_named(checks, S, torch):
    """The naive (lag 1) scale only when the period is 4: the naive variant does not explain the
    m = 12 cases, so the message quotes numbers instead of naming a wrong mistake."""
    def mase(y, f, x, period):
        lag = 1 if period == 4 else period
        return np.mean(np.abs(y - f)) / np.mean(np.abs(x[lag:] - x[:-lag]))

    message = _message(checks, "test_mase", _student(S, mase=mase))
    assert "lag 1" not in message and "has wrong values" in message


def test_the_metric_check_can_fail(checks, S, torch):
    """A forecast right on every graded case but repeating the last value for a batch of 20 (the
    held-out series) is stopped by check_metric, whose target never left the grader."""
    def forecast_recursive(model, x, horizon):
        if x.shape[0] == 20:
            return x[:, -1:, 0].repeat(1, horizon)
        return S.forecast_recursive(model, x, horizon)

    message = _message(checks, "test_forecast_recursive", _student(S, forecast_recursive=forecast_recursive))
    assert "mean MASE" in message and "on held-out data" in message


def test_the_checks_cases_leave_no_mistake_room_to_hide(checks):
    """What the module docstring promises."""
    windows = checks._window_cases()
    assert any("stop" not in c for c in windows) and {c.get("stride", 1) for c in windows} >= {1, 2, 3}
    for c in windows:
        if "stop" in c:
            assert np.isnan(c["y"][c["stop"]:]).all() and np.isfinite(c["y"][:c["stop"]]).all()
            assert (c["stop"] - c["window"] - c["horizon"]) % c.get("stride", 1) == 0  # a window ends at stop
    mases = checks._mase_cases()
    assert {c["period"] for c in mases} == {1, 4, 12} and any(len(c["x"]) == c["period"] + 1 for c in mases)
    assert any(len(c["y"]) > c["period"] for c in mases) and any(len(c["y"]) < c["period"] for c in mases)
    batched = checks._batched_mase_case()  # (3, h): one MASE per row, not one over every axis
    assert batched["y"].shape == batched["f"].shape and batched["y"].ndim == 2 and len(batched["y"]) == 3
    decodes = checks._decode_cases()
    assert {"targets" in c for c in decodes} == {True, False}
    assert any(c["first"].shape[0] == c["horizon"] for c in decodes) and any(c["horizon"] == 1 for c in decodes)
    assert all(np.abs(s).min() > 0 for c in decodes for s in c["state"])
    recursive = checks._recursive_cases()
    assert {c["mode"] for c in recursive} == {"train", "eval"} and any(c["dropout"] for c in recursive)
    assert len({tuple(np.round(c["weights"], 6)) for c in recursive}) == len(recursive)


# ----------------------------------------------------------------------------- the visible self-checks
def test_self_checks_pass_on_the_reference_with_numpy_and_torch_alone(torch):
    for cell, imports in release_cell_imports(ASSIGNMENT).items():
        assert imports <= {"numpy", "torch"}, f"cell {cell} imports {imports}"
    printed = run_release_cells(ASSIGNMENT)
    assert printed.count("✓") >= 11, printed


def test_the_leakage_run_prints_what_the_model_answer_quotes(torch):
    """The written answer's model quotes these four numbers: honest beats seasonal naive, and each
    leak flatters the forecast further."""
    printed = run_release_cells(ASSIGNMENT)
    scores = dict(re.findall(r"^(.*?)\s+test MASE ([\d.]+)$", printed, flags=re.M))
    assert scores == {"seasonal naive": "1.900", "AR(12), honest": "1.634",
                      "AR(12), fitted on the whole series": "1.187",
                      "AR(12), teacher forcing at prediction": "0.693"}, printed
    import nbformat

    notebook = nbformat.read(Course().source_notebook(ASSIGNMENT), as_version=4)
    source = next(c for c in notebook.cells
                  if c.metadata.get("nbgrader", {}).get("grade_id") == "written_answer").source
    assert all(v in source for v in ("0.69", "1.63", "1.19"))


@pytest.mark.parametrize("cell, changes, words", [
    ("make_windows", [("horizon + 1, stride)", "horizon + 2, stride)")], "reads past stop"),
    ("mase", [("x[period:] - x[:-period]", "x[1:] - x[:-1]")], "naive forecast's error"),
    ("decode", [("prev = pred if targets is None else targets[:, k, None, None]", "prev = pred")],
     "the targets are ignored"),
    ("forecast_recursive", [("with torch.no_grad():", "if True:")], "autograd on"),
])
def test_self_checks_name_the_chapters_mistakes(torch, cell, changes, words):
    source = {"make_windows": WINDOWS, "mase": MASE, "decode": DECODE, "forecast_recursive": RECURSIVE}[cell]
    with pytest.raises(AssertionError, match=re.escape(words)):
        run_release_cells(ASSIGNMENT, {cell: edit(source, *changes)})
