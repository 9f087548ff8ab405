"""Chapter 4's exercise beyond what every assignment gets (tests/test_assignments.py and the
mutation gate, tests/test_mutants.py): its hidden checks called directly on plain functions
(a KernelStudent: the grader's codec, no sandbox), the mistakes the chapter is about named in words (h_n direction-major, the backward
outputs not reversed back, the wrong input fed to a layer, the backward final state from
output[-1], the layer norm over the batch), a wrong pasted step costing no marks in a right stack
(and a pasted step that raises blamed on the paste, not on the stack), the cases the checks promise, and the learner's visible self-checks run in this process with
numpy alone. The stacks' expected values are solutions.stacks, checked against torch.nn.RNN / LSTM
in tests/test_stacks_reference.py; here torch checks the hand examples' stacks once more."""
import re

import numpy as np
import pytest
from conftest import release_cell_imports, release_cell_sources, run_release_cells

from autograder.checking import CheckFailed
from autograder.checks import ch04_stacks as checks
from autograder.course import Course
from autograder.mutants.ch04_stacks import BIDIRECTIONAL, DEEP, FINAL, LN_STEP, NORM
from autograder.mutation import edit
from autograder.student import KernelStudent
from solutions import lstm, rnn, stacks

ASSIGNMENT = "ch04_stacks"
PARTS = list(Course().assignment(ASSIGNMENT).parts)
REFERENCE = {**vars(rnn), **vars(lstm), **vars(stacks)}


def _student(**answers):
    """The reference functions as a student, with some replaced by student code: a namespace run in
    this process through the grader's own codec (plain data in and out, an exception reported as
    the sandbox reports it)."""
    return KernelStudent({**REFERENCE, **answers})


def _defined(source, name):
    """The function `name` defined by a student's cell `source`, with what the notebook gives."""
    space = {"np": np, **{k: REFERENCE[k] for k in ("sigmoid", "activation", "layer_weights", "direction_forward",
                                                     "rnn_step_forward", "lstm_step_forward", "layer_norm")}}
    exec(source, space)
    return space[name]


def _message(part, student):
    with pytest.raises(CheckFailed) as failure:
        getattr(checks, part)(student)
    return str(failure.value)


@pytest.mark.parametrize("part", PARTS)
def test_the_reference_passes_every_hidden_check(part):
    getattr(checks, part)(_student())


# ------------------------------------------------------------------ the chapter's mistakes, named
@pytest.mark.parametrize("name, source, changes, part, words", [
    ("bidirectional_forward", BIDIRECTIONAL,
     [("outs.append(out if d == 0 else out[::-1])", "outs.append(out)")],
     "test_bidirectional_forward", "the backward direction's outputs are not reversed back"),
    ("bidirectional_forward", BIDIRECTIONAL,
     [("seq = x if d == 0 else x[::-1]", "seq = x"), ("outs.append(out if d == 0 else out[::-1])", "outs.append(out)")],
     "test_bidirectional_forward", "the backward direction reads x forwards: run it over the reversed input"),
    ("bidirectional_forward", BIDIRECTIONAL, [("seq = x if d == 0 else x[::-1]", "seq = x")],
     "test_bidirectional_forward", "only its outputs are reversed"),
    ("bidirectional_forward", BIDIRECTIONAL,
     [("# back to x's time\n            h_n.append(h)", "# back to x's time\n            h_n.append(outs[-1][-1])")],
     "test_bidirectional_forward", "final state is taken from output[-1]"),
    ("deep_forward", DEEP, [("x, h, c = direction_forward(x,", "out, h, c = direction_forward(x,"),
                            ("return x, np.stack", "return out, np.stack")],
     "test_deep_forward", "every layer reads x"),
    ("final_states", FINAL, [("return last[0], (last[1] if", "return last[-1], (last[0] if")],
     "test_final_states", "the directions are swapped"),
    ("layer_norm", NORM, [("axis=-1, keepdims=True)\n    var = z.var(axis=-1", "axis=0, keepdims=True)\n    var = z.var(axis=0")],
     "test_ln_lstm_step_forward", "over the batch (axis 0), which is batch normalisation"),
    ("ln_lstm_step_forward", LN_STEP, [("h_next = o * np.tanh(layer_norm(c_next, *ln_c, eps))",
                                        "h_next = o * np.tanh(c_next)")],
     "test_ln_lstm_step_forward", "the cell state is not normalised in the output"),
])
def test_the_chapters_mistakes_are_named(name, source, changes, part, words):
    wrong = _defined(edit(source, *changes), name)
    message = _message(part, _student(**{name: wrong}))
    assert words in message, message
    assert "(inputs: cell=" in message or "(inputs: h_n of shape" in message or "(inputs: z of shape" in message \
        or "(inputs: N=" in message, message  # the failing call, in words


def test_direction_major_h_n_is_named_with_torchs_layout():
    """h_n collected as every forward state, then every backward state: the message says torch's order."""
    def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn", nonlinearity="tanh"):
        output, h_n, c_n = stacks.bidirectional_forward(x, h0, c0, weights, num_layers, cell, nonlinearity)
        order = [2 * k for k in range(num_layers)] + [2 * k + 1 for k in range(num_layers)]
        return output, h_n[order], None if c_n is None else c_n[order]

    message = _message("test_bidirectional_forward", _student(bidirectional_forward=bidirectional_forward))
    assert "h_n is direction-major" in message and "h_n[2k] is layer k's forward direction" in message, message


def test_an_rnn_stack_returning_an_array_for_c_n_is_told_it_should_be_none():
    """c_n is None unless cell='lstm': zeros in its place are named as c_n, not as a count of items."""
    def deep_forward(x, h0, c0, weights, num_layers, cell="rnn", nonlinearity="tanh"):
        output, h_n, c_n = stacks.deep_forward(x, h0, c0, weights, num_layers, cell, nonlinearity)
        return output, h_n, np.zeros_like(h_n) if c_n is None else c_n

    message = _message("test_deep_forward", _student(deep_forward=deep_forward))
    assert "the output of `deep_forward`[2] should be None, but it is an array of shape (2, 3, 3)" in message, message
    assert "(inputs: cell='rnn'" in message and "items" not in message, message


def test_the_next_layer_fed_the_forward_half_only_is_explained():
    """A shape error, not numbers: the hint says what layer k + 1 reads."""
    wrong = _defined(edit(BIDIRECTIONAL, ("x = np.concatenate(outs, axis=-1)  # (T, N, 2H)",
                                          "x = np.concatenate(outs, axis=-1) if k == num_layers - 1 else outs[0]")),
                     "bidirectional_forward")
    message = _message("test_bidirectional_forward", _student(bidirectional_forward=wrong))
    assert "raised ValueError" in message and "both directions concatenated" in message, message


def test_a_mistake_that_explains_only_some_cases_is_not_named():
    """Outputs not reversed back only in LSTM stacks: no known mistake explains every case, so the
    message quotes the numbers instead of naming a wrong mistake."""
    def bidirectional_forward(x, h0, c0, weights, num_layers, cell="rnn", nonlinearity="tanh"):
        if cell != "lstm":
            return stacks.bidirectional_forward(x, h0, c0, weights, num_layers, cell, nonlinearity)
        return checks._bidirectional(x, h0, c0, weights, num_layers, cell, nonlinearity, reverse="input")

    message = _message("test_bidirectional_forward", _student(bidirectional_forward=bidirectional_forward))
    assert "not reversed back" not in message and "has wrong values" in message, message


def _notebook_student(answers):
    """A student as the grader sees one: the release's code cells (no self-checks) run in one
    namespace with the reference answers, some replaced by `answers`, so the given direction_forward
    calls the pasted steps found there."""
    from autograder.submissions import solution_sources

    filled = {**solution_sources(ASSIGNMENT), **answers}
    space = {}
    for meta, source in release_cell_sources(ASSIGNMENT):
        if meta.get("grade") or meta["grade_id"] in ("check_steps", "measure_future"):
            continue
        exec(filled[meta["grade_id"]] if meta.get("solution") else source, space)
    return KernelStudent(space)


def _scaled(name):
    """The reference answer of a pasted step, wrong (h_next halved) but running."""
    from autograder.submissions import solution_sources

    return edit(solution_sources(ASSIGNMENT)[name], *{
        "rnn_step_forward": [("h_next = activation(nonlinearity)(z)", "h_next = activation(nonlinearity)(z) / 2")],
        "lstm_step_forward": [("h_next = o * np.tanh(c_next)", "h_next = o * np.tanh(c_next) / 2")]}[name])


@pytest.mark.parametrize("name", ["rnn_step_forward", "lstm_step_forward"])
def test_a_wrong_pasted_step_costs_no_marks_in_a_right_stack(name):
    """The pasted steps are not graded again: a right stack on a wrong step is graded against stacks
    built on the student's own steps, and passes."""
    student = _notebook_student({name: _scaled(name)})
    assert checks._own_steps(student) is not None  # the paste differs from the course's step
    for part in ("test_deep_forward", "test_bidirectional_forward"):
        getattr(checks, part)(student)


def test_a_wrong_stack_on_a_wrong_pasted_step_is_still_named():
    student = _notebook_student({
        "lstm_step_forward": _scaled("lstm_step_forward"),
        "bidirectional_forward": edit(BIDIRECTIONAL, ("outs.append(out if d == 0 else out[::-1])", "outs.append(out)"))})
    message = _message("test_bidirectional_forward", student)
    assert "the backward direction's outputs are not reversed back" in message, message


@pytest.mark.parametrize("name, words", [("rnn_step_forward", "chapter 1"), ("lstm_step_forward", "chapter 3")])
def test_a_pasted_step_that_raises_is_blamed_on_the_paste(name, words):
    def not_pasted(*args):
        raise NotImplementedError()

    for part in ("test_deep_forward", "test_bidirectional_forward"):
        message = _message(part, _student(**{name: not_pasted}))
        assert f"your pasted `{name}` from {words} (not graded here) raised an error" in message, message
        assert "check_steps" in message, message


def test_final_states_for_one_direction_must_say_none():
    wrong = _defined("def final_states(h_n, num_layers, bidirectional):\n    return h_n[-2], h_n[-1]",
                     "final_states")
    message = _message("test_final_states", _student(final_states=wrong))
    assert "should return (forward, None) when bidirectional=False" in message, message


def test_the_checks_cases_leave_no_mistake_room_to_hide():
    """What the module docstring promises: a first case where x fed to every layer fits (D = H, or
    D = 2H when bidirectional), D different from that elsewhere, one to three layers, RNN (tanh and
    relu) and LSTM, T = 1 and N = 1, float32, every initial state different; layer norm with a row
    of tiny variance and eps given; final states of one to three layers both ways."""
    for cases, dirs in ((checks._deep_cases(), 1), (checks._bidirectional_cases(), 2)):
        first = cases[0]
        assert first["x"].shape[2] == dirs * first["h0"].shape[2] and first["num_layers"] > 1
        assert any(c["x"].shape[2] != dirs * c["h0"].shape[2] for c in cases)
        assert {c["num_layers"] for c in cases} >= ({1, 2, 3} if dirs == 2 else {1, 2, 3})
        assert {c["cell"] for c in cases} == {"rnn", "lstm"} and any(c.get("nonlinearity") == "relu" for c in cases)
        assert any(c["x"].shape[0] == 1 for c in cases) and any(c["x"].shape[1] == 1 for c in cases)
        assert any(c["x"].dtype == np.float32 for c in cases)
        for c in cases:
            rows = c["h0"].reshape(len(c["h0"]), -1)
            assert len(np.unique(rows.round(6), axis=0)) == len(rows)
    norms = checks._norm_cases()
    assert any(c["z"][-1].var() < 1e-5 for c in norms) and any("eps" in c for c in norms)
    assert {c["num_layers"] for c in checks._final_cases(True)} == {1, 2, 3}
    assert all(c["h_prev"].shape[1] > 1 for c in checks._ln_cases())


def test_the_hand_examples_are_torchs(torch):
    """The self-checks' hand examples, run through torch.nn.RNN with the same weights: the numbers
    the comments work out by hand are torch's."""
    torch.set_num_threads(1)
    printed = run_release_cells(ASSIGNMENT)
    assert "✓ output of the hand example (2 layers, T=2, N=D=H=1)" in printed
    with torch.no_grad():
        deep = torch.nn.RNN(1, 1, num_layers=2).double()
        for name, value in {"weight_ih_l0": 1.0, "weight_hh_l0": 0.5, "bias_ih_l0": 0.25, "bias_hh_l0": -0.25,
                            "weight_ih_l1": 2.0, "weight_hh_l1": -1.0, "bias_ih_l1": 0.5, "bias_hh_l1": 0.0}.items():
            getattr(deep, name).fill_(value)
        out, h_n = deep(torch.tensor([1.0, -1.0], dtype=torch.float64).reshape(2, 1, 1),
                        torch.tensor([0.5, -0.5], dtype=torch.float64).reshape(2, 1, 1))
        np.testing.assert_allclose(out.flatten().numpy(), [0.9909458, -0.9104662], atol=1e-6)
        np.testing.assert_allclose(h_n.flatten().numpy(), [-0.5196486, -0.9104662], atol=1e-6)
        both = torch.nn.RNN(1, 1, bidirectional=True).double()
        for name, value in {"weight_ih_l0": 1.0, "weight_hh_l0": 0.5, "bias_ih_l0": 0.25, "bias_hh_l0": -0.25,
                            "weight_ih_l0_reverse": -1.0, "weight_hh_l0_reverse": 0.25,
                            "bias_ih_l0_reverse": 0.5, "bias_hh_l0_reverse": -0.5}.items():
            getattr(both, name).fill_(value)
        out, h_n = both(torch.tensor([1.0, 0.5, -1.0], dtype=torch.float64).reshape(3, 1, 1),
                        torch.tensor([0.5, -0.5], dtype=torch.float64).reshape(2, 1, 1))
        # the comments' numbers: f = [0.8483, 0.7279, -0.5622], g = [-0.7926, -0.3131, 0.7039]
        np.testing.assert_allclose(out[:, 0].numpy(), [[0.8483, -0.7926], [0.7279, -0.3131], [-0.5622, 0.7039]],
                                   atol=1e-4)
        np.testing.assert_allclose(h_n.flatten().numpy(), [-0.5622, -0.7926], atol=1e-4)


def test_the_layer_norm_hand_example_is_torchs(torch):
    """The LN-LSTM hand example's normalised pre-activations and cell state, by
    torch.nn.functional.layer_norm: LN(W_ih x) = p, LN(W_hh h) = q, h' = [0.6148, -0.4221]."""
    F = torch.nn.functional
    p = torch.tensor([1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0, -1.0], dtype=torch.float64)
    q = torch.tensor([-1.0, 1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0], dtype=torch.float64)
    np.testing.assert_allclose(F.layer_norm(3 * p + 2, (8,)).numpy(), p.numpy(), atol=1e-5)
    np.testing.assert_allclose(F.layer_norm(2 * q - 1, (8,)).numpy(), q.numpy(), atol=1e-5)
    b = torch.tensor([0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0], dtype=torch.float64)
    a = F.layer_norm(3 * p + 2, (8,)) + F.layer_norm(2 * q - 1, (8,)) * 0.5 + 0.25 + b
    i, f, g, o = torch.sigmoid(a[0:2]), torch.sigmoid(a[2:4]), torch.tanh(a[4:6]), torch.sigmoid(a[6:8])
    c = f * torch.tensor([1.0, -2.0], dtype=torch.float64) + i * g
    h = o * torch.tanh(F.layer_norm(c, (2,), torch.tensor([1.0, 2.0], dtype=torch.float64),
                                    torch.tensor([0.5, 0.0], dtype=torch.float64)))
    np.testing.assert_allclose(c.numpy(), [0.5128, -2.4266], atol=1e-4)
    np.testing.assert_allclose(h.numpy(), [0.6148, -0.4221], atol=1e-4)


# ------------------------------------------------------------------ the visible self-checks
def test_self_checks_pass_on_the_reference_with_numpy_alone():
    for cell, imports in release_cell_imports(ASSIGNMENT).items():
        assert imports <= {"numpy"}, f"cell {cell} imports {imports}"
    printed = run_release_cells(ASSIGNMENT)
    assert printed.count("✓") >= 25


def test_the_future_run_shows_what_each_stack_can_see():
    """The ungraded run: changing x[T-1] moves only the last output of a deep stack, every output of
    a bidirectional one."""
    printed = run_release_cells(ASSIGNMENT)
    assert "deep_forward: changing x[5] changes the outputs at t = [5]" in printed
    assert "bidirectional_forward: changing x[5] changes the outputs at t = [0, 1, 2, 3, 4, 5]" in printed


@pytest.mark.parametrize("cell, wrong, words", [
    ("bidirectional_forward", edit(BIDIRECTIONAL, ("outs.append(out if d == 0 else out[::-1])", "outs.append(out)")),
     "not reversed back"),
    ("deep_forward", edit(DEEP, ("x, h, c = direction_forward(x,", "out, h, c = direction_forward(x,"),
                          ("return x, np.stack", "return out, np.stack")), "every layer reads x"),
    ("final_states", edit(FINAL, ("by_layer = h_n.reshape((num_layers, dirs) + h_n.shape[1:])",
                                  "by_layer = h_n.reshape((dirs, num_layers) + h_n.shape[1:]).swapaxes(0, 1)")),
     "direction-major"),
])
def test_self_checks_name_the_chapters_mistakes(cell, wrong, words):
    with pytest.raises(AssertionError, match=re.escape(words)):
        run_release_cells(ASSIGNMENT, {cell: wrong})


def test_self_checks_stop_a_wrong_paste_before_the_stacks():
    """The check after the pasted steps stops a chapter 3 step with CS231n's gate order (i, f, o, g)."""
    wrong = edit(_pasted_lstm(), ("a_i, a_f, a_g, a_o", "a_i, a_f, a_o, a_g"))
    with pytest.raises(AssertionError, match="your pasted lstm_step_forward on chapter 3's hand example"):
        run_release_cells(ASSIGNMENT, {"lstm_step_forward": wrong})


def _pasted_lstm():
    from autograder.submissions import solution_sources

    return solution_sources(ASSIGNMENT)["lstm_step_forward"]
