"""Hidden checks for chapter 1, "RNN steps by hand".

Each check runs the student's function on seeded cases chosen so that no mistake can hide:
square and non-square weights (so a missing transpose gives wrong numbers before it gives a
shape error), non-zero biases and initial states, both nonlinearities, both layouts of
`rnn_forward`, float32 inputs. A known mistake (a variant) is named only when it explains the
student's results on every case where both can be computed (`check_cases`), so that one lucky match
never names the wrong mistake, and every message says the failing call's arguments in words.
The mistakes these checks must name, and the fair answers they must accept, are listed as
student code in autograder/mutants/ch01_rnn_by_hand.py (`python -m autograder mutants`).
"""
import numpy as np

from autograder.checking import WrongStructure, check_cases, describe_case, pair_first
from solutions import rnn as ref


def _float32(case):
    return any(getattr(v, "dtype", None) == np.float32 for v in case.values())


def _sizes(case, **letters):
    text = ", ".join(f"{k}={v}" for k, v in letters.items())
    return text + (", float32 inputs" if _float32(case) else "")


def _weights(rng, D, H, dtype=np.float64):
    return {
        "W_ih": rng.normal(size=(H, D)).astype(dtype),
        "W_hh": (rng.normal(size=(H, H)) / np.sqrt(H)).astype(dtype),
        "b_ih": rng.normal(size=H).astype(dtype),
        "b_hh": rng.normal(size=H).astype(dtype),
    }


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def _relu(z):
    return np.maximum(z, 0)


# ----------------------------------------------------------------------------- Part 1
def _describe_scalar(case):
    return describe_case(case)


def test_rnn_step_scalar(student):
    """Part 1: one step of a single recurrent neuron"""
    cases = [dict(x_t=-1.0, h_prev=0.5, w_x=2.0, w_h=-0.6, b=0.5),  # z = -1.8: relu, sigmoid, tanh all differ
             dict(x_t=1.0, h_prev=0.0, w_x=0.5, w_h=0.8, b=0.1)]    # the lesson's worked example
    rng = np.random.default_rng(1)
    cases += [dict(zip(["x_t", "h_prev", "w_x", "w_h", "b"], map(float, rng.normal(size=5))))
              for _ in range(5)]

    def z(x_t, h_prev, w_x, w_h, b):
        return w_x * x_t + w_h * h_prev + b

    check_cases(student, ref.rnn_step_scalar, cases, describe=_describe_scalar, variants=[
        ("the tanh is missing: h_t = tanh(w_x x_t + w_h h_prev + b)", z),
        ("the activation is wrong: this neuron uses tanh, and you seem to use relu, max(z, 0)",
         lambda **c: _relu(z(**c))),
        ("the activation is wrong: this neuron uses tanh, and you seem to use a sigmoid",
         lambda **c: _sigmoid(z(**c))),
        ("the bias b is missing", lambda b, **c: ref.rnn_step_scalar(b=0.0, **c)),
        ("b is added after the tanh; it belongs inside: tanh(w_x x_t + w_h h_prev + b)",
         lambda b, **c: ref.rnn_step_scalar(b=0.0, **c) + b),
        ("the recurrent term w_h * h_prev is missing", lambda h_prev, **c: ref.rnn_step_scalar(h_prev=0.0, **c)),
        ("the input term w_x * x_t is missing", lambda x_t, **c: ref.rnn_step_scalar(x_t=0.0, **c)),
        ("w_x and w_h are swapped: w_x multiplies the input x_t, w_h the previous state",
         lambda w_x, w_h, **c: ref.rnn_step_scalar(w_x=w_h, w_h=w_x, **c)),
    ])


# ----------------------------------------------------------------------------- Part 2
STEP_HINTS = [
    ("matmul", "W_ih has shape (H, D) and W_hh (H, H), one row per hidden unit, so the products need the "
               "transposes: x_t @ W_ih.T and h_prev @ W_hh.T"),
    ("could not be broadcast", "every term must have shape (N, H), one row per example: x_t @ W_ih.T, "
                               "h_prev @ W_hh.T, then the biases of shape (H,)"),
]


def _step_cases():
    """Square weights first (D = H: a missing transpose gives wrong values, not a shape error)."""
    cases = []
    for seed, (N, D, H, dtype, nonlinearity) in enumerate([
            (3, 4, 4, np.float64, "tanh"), (4, 3, 7, np.float64, "tanh"), (3, 4, 4, np.float64, "relu"),
            (1, 5, 5, np.float64, "tanh"), (6, 2, 3, np.float32, "tanh"), (4, 3, 7, np.float64, "relu")]):
        rng = np.random.default_rng(100 + seed)
        cases.append({"x_t": rng.normal(size=(N, D)).astype(dtype),
                      "h_prev": rng.uniform(-1, 1, size=(N, H)).astype(dtype),
                      **_weights(rng, D, H, dtype), "nonlinearity": nonlinearity})
    return cases


def _describe_step(case):
    (N, D), H = np.shape(case["x_t"]), len(case["W_hh"])
    return f"nonlinearity={case.get('nonlinearity', 'tanh')!r}, " + _sizes(case, N=N, D=D, H=H)


def _step_z(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
    return x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh


def _step_variants():
    """Known mistakes of rnn_step_forward, as functions of a case returning (h_next, cache)."""
    def changed(**changes):
        return lambda **case: ref.rnn_step_forward(**{**case, **{k: f(case) for k, f in changes.items()}})

    def after_activation(b_ih, b_hh, nonlinearity="tanh", **c):
        h, cache = ref.rnn_step_forward(b_ih=0 * b_ih, b_hh=0 * b_hh, nonlinearity=nonlinearity, **c)
        return h + b_ih + b_hh, cache

    def acting(act):
        return lambda **case: (act(_step_z(**case)), None)

    return [
        ("W_hh is used without its transpose: the recurrent term is h_prev @ W_hh.T",
         changed(W_hh=lambda c: c["W_hh"].T)),
        ("W_ih is used without its transpose: the input term is x_t @ W_ih.T",
         changed(W_ih=lambda c: c["W_ih"].T)),
        ("W_ih and W_hh are used without their transposes: x_t @ W_ih.T and h_prev @ W_hh.T",
         changed(W_ih=lambda c: c["W_ih"].T, W_hh=lambda c: c["W_hh"].T)),
        ("nonlinearity='relu' is ignored: with relu, h = max(z, 0) (use activation(nonlinearity))",
         changed(nonlinearity=lambda c: "tanh")),
        ("both biases are missing: add b_ih and b_hh",
         changed(b_ih=lambda c: 0 * c["b_ih"], b_hh=lambda c: 0 * c["b_hh"])),
        ("b_ih is missing: the step adds both biases, b_ih + b_hh", changed(b_ih=lambda c: 0 * c["b_ih"])),
        ("b_hh is missing: the step adds both biases, b_ih + b_hh", changed(b_hh=lambda c: 0 * c["b_hh"])),
        ("the biases are added after the activation; they belong inside it", after_activation),
        ("the recurrent term is missing: the previous state must enter through h_prev @ W_hh.T",
         changed(h_prev=lambda c: 0 * c["h_prev"])),
        ("the input term is missing: x_t must enter through x_t @ W_ih.T", changed(x_t=lambda c: 0 * c["x_t"])),
        ("W_ih and W_hh are swapped: x_t goes with W_ih, h_prev with W_hh",
         changed(W_ih=lambda c: c["W_hh"], W_hh=lambda c: c["W_ih"])),
        ("the activation is missing: h = act(z), with act given by nonlinearity", acting(lambda z: z)),
        ("the activation is wrong: you seem to use a sigmoid; use activation(nonlinearity)", acting(_sigmoid)),
        ("the activation is wrong: you use relu whatever nonlinearity says; use activation(nonlinearity)",
         acting(_relu)),
    ]


def test_rnn_step_forward(student):
    """Part 2: one batched RNN step, (h_next, cache)"""
    check_cases(student, ref.rnn_step_forward, _step_cases(), describe=_describe_step, select=pair_first,
           variants=_step_variants(), hints=STEP_HINTS)


# ----------------------------------------------------------------------------- Part 3
COMBINE_HINTS = [
    ("concatenation axis", "put W_ih and W_hh side by side, along axis 1, so that W has shape (H, D + H)"),
]
COMBINED_STEP_HINTS = [
    ("concatenation axis", "stack x_t and h_prev side by side, along axis 1: [x_t, h_prev] has shape (N, D + H)"),
    ("matmul", "W has shape (H, D + H) and [x_t, h_prev] shape (N, D + H), so the product needs the transpose: "
               "[x_t, h_prev] @ W.T"),
]


def _describe_combine(case):
    (H, D) = np.shape(case["W_ih"])
    return f"W_ih of shape (H, D) = ({H}, {D}) and W_hh of shape (H, H) = ({H}, {H})" + (
        ", float32" if _float32(case) else "")


def _describe_combined_step(case):
    (N, D), H = np.shape(case["x_t"]), np.shape(case["h_prev"])[1]
    return _sizes(case, N=N, D=D, H=H)


def test_rnn_step_combined(student):
    """Part 3: the combined [W_ih, W_hh] matrix"""
    steps = _step_cases()
    weights = [{"W_ih": c["W_ih"], "W_hh": c["W_hh"]} for c in steps[:2] + steps[4:5]]  # D = H first
    check_cases(student, ref.combine_weights, weights, describe=_describe_combine, hints=COMBINE_HINTS, variants=[
        ("the blocks are in the wrong order: W = [W_ih, W_hh], the input weights first",
         lambda W_ih, W_hh: np.concatenate([W_hh, W_ih], axis=1)),
        ("W_ih and W_hh are stacked one above the other: put them side by side (axis=1), so that W has "
         "shape (H, D + H)", lambda W_ih, W_hh: np.concatenate([W_ih, W_hh], axis=0)),
        ("W is transposed: it should have shape (H, D + H), one row per hidden unit",
         lambda W_ih, W_hh: ref.combine_weights(W_ih, W_hh).T),
    ])
    # D != H first: there, stacking [x_t, h_prev] along the wrong axis is an error the hint names
    combined = [{"x_t": c["x_t"], "h_prev": c["h_prev"], "W": ref.combine_weights(c["W_ih"], c["W_hh"]),
                 "b": c["b_ih"] + c["b_hh"]} for c in [steps[1], steps[0], steps[4]]]

    def z(x_t, h_prev, W, b):
        return np.concatenate([x_t, h_prev], axis=1) @ W.T + b

    check_cases(student, ref.rnn_step_combined, combined, describe=_describe_combined_step, hints=COMBINED_STEP_HINTS,
           variants=[
               ("[x_t, h_prev] is stacked in the wrong order: the input first, then the state, to match "
                "W = [W_ih, W_hh]",
                lambda x_t, h_prev, W, b: np.tanh(np.concatenate([h_prev, x_t], axis=1) @ W.T + b)),
               ("the bias b is missing", lambda b, **c: ref.rnn_step_combined(b=0 * b, **c)),
               ("the tanh is missing: h_next = tanh([x_t, h_prev] @ W.T + b)", z),
               ("the activation is wrong: this step uses tanh, and you seem to use a sigmoid",
                lambda **c: _sigmoid(z(**c))),
               ("the activation is wrong: this step uses tanh, and you seem to use relu",
                lambda **c: _relu(z(**c))),
           ])


# ----------------------------------------------------------------------------- Part 4
SEQUENCE_HINTS = [
    ("could not be broadcast", "each step takes x_t of shape (N, D) and the state of shape (N, H): x is "
                               "(T, N, D), time first, and (N, T, D) only when batch_first=True, so then "
                               "transpose it to (T, N, D) before the loop"),
    ("values to unpack", "rnn_step_forward returns a pair (h_next, cache): unpack it, "
                         "h, step_cache = rnn_step_forward(...)"),
    ("matmul", "each step takes x_t of shape (N, D): with batch_first=True, x is (N, T, D), so the time "
               "axis is axis 1"),
]


def _sequence_cases():
    """Time first (tanh, relu, one step, float32), then batch first: N = T (an ignored batch_first
    gives wrong values), N = 1 (a reshape is then a transpose: it tells the two apart), N != T."""
    cases = []
    for seed, (T, N, D, H, dtype, nonlinearity, batch_first) in enumerate([
            (5, 4, 3, 7, np.float64, "tanh", False), (4, 3, 4, 4, np.float64, "relu", False),
            (1, 2, 4, 4, np.float64, "tanh", False), (8, 3, 2, 5, np.float32, "tanh", False),
            (4, 4, 3, 5, np.float64, "tanh", True), (5, 1, 3, 4, np.float64, "tanh", True),
            (5, 4, 3, 7, np.float64, "relu", True)]):
        rng = np.random.default_rng(200 + seed)
        x = rng.normal(size=(T, N, D)).astype(dtype)
        cases.append({"x": x.transpose(1, 0, 2).copy() if batch_first else x,
                      "h0": rng.uniform(-1, 1, size=(N, H)).astype(dtype), **_weights(rng, D, H, dtype),
                      "nonlinearity": nonlinearity, "batch_first": batch_first})
    return cases


def _describe_sequence(case):
    x, bf = case["x"], case.get("batch_first", False)
    N, T = (x.shape[0], x.shape[1]) if bf else (x.shape[1], x.shape[0])
    layout = "(N, T, D)" if bf else "(T, N, D)"
    return (f"batch_first={bf}, nonlinearity={case.get('nonlinearity', 'tanh')!r}, "
            + _sizes(case, N=N, T=T, D=x.shape[2], H=len(case["W_hh"]))
            + f": x of shape {layout} = {tuple(x.shape)}, a non-zero h0")


def _time_first(mistake):
    """A mistake written for x of shape (T, N, D), applied to a case in either layout."""
    def run(x, batch_first=False, **c):
        if not batch_first:
            return mistake(x=x, **c)
        out, cache = mistake(x=x.transpose(1, 0, 2), **c)
        return out.transpose(1, 0, 2), cache
    return run


def _sequence_variants():
    def steps(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity="tanh"):
        return ref.rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh, nonlinearity)

    @_time_first
    def state_not_carried(x, h0, **c):
        return np.stack([ref.rnn_step_forward(x_t, h0, **c)[0] for x_t in x]), None

    @_time_first
    def h0_ignored(h0, **c):
        return steps(h0=0 * h0, **c)

    @_time_first
    def inputs_reversed(x, **c):
        return steps(x=x[::-1], **c)

    @_time_first
    def inputs_and_outputs_reversed(x, **c):
        out, cache = steps(x=x[::-1], **c)
        return out[::-1], cache

    @_time_first
    def outputs_reversed(**c):
        out, cache = steps(**c)
        return out[::-1], cache

    @_time_first
    def stored_before_update(h0, **c):
        out, cache = steps(h0=h0, **c)
        return np.concatenate([h0[None], out[:-1]]), cache

    @_time_first
    def with_h0(h0, **c):
        out, cache = steps(h0=h0, **c)
        return np.concatenate([h0[None], out]), cache

    @_time_first
    def all_last(**c):
        out, cache = steps(**c)
        return np.broadcast_to(out[-1], out.shape), cache

    @_time_first
    def last_step_missing(**c):
        out, cache = steps(**c)
        return out[:-1], cache

    @_time_first
    def first_input_skipped(x, **c):
        return steps(x=x[1:], **c)

    @_time_first
    def nonlinearity_not_passed(nonlinearity="tanh", **c):
        return steps(**c)

    def batch_first_ignored(batch_first=False, **c):
        return steps(**c)

    def not_transposed_back(x, batch_first=False, **c):
        return steps(x=x.transpose(1, 0, 2) if batch_first else x, **c)

    def reshaped(x, batch_first=False, **c):
        if not batch_first:
            return steps(x=x, **c)
        N, T, D = x.shape
        out, cache = steps(x=x.reshape(T, N, D), **c)
        return out.reshape(N, T, -1), cache

    def wrong_stack_axis(**c):
        out, cache = ref.rnn_forward(**c)
        return out.transpose(1, 0, 2), cache

    return [
        ("nonlinearity='relu' is not passed on: your rnn_forward gives the tanh result; call "
         "rnn_step_forward(..., nonlinearity)", nonlinearity_not_passed),
        ("the hidden state is not carried from step to step: every step starts from h0 instead of the "
         "previous step's state", state_not_carried),
        ("the initial state h0 is ignored: the first step must start from h0, not from zeros", h0_ignored),
        ("x is reshaped, not transposed: a reshape from (N, T, D) to (T, N, D) mixes up the sequences; "
         "use x.transpose(1, 0, 2), and the same for out", reshaped),
        ("batch_first=True is ignored: with batch_first, x is (N, T, D); transpose it to (T, N, D) before "
         "the loop, and out back to (N, T, H)", batch_first_ignored),
        ("with batch_first=True, out must be (N, T, H) too: transpose it back after the loop",
         not_transposed_back),
        ("out[t] holds the state before step t (out[0] is h0): store each state after its step",
         stored_before_update),
        ("out has T + 1 states: it holds h0 too; it should hold only the T states after each step", with_h0),
        ("every out[t] holds the last state: the same array was stored at every step and then changed in "
         "place (h[:] = ... or h += ...); store a new array each step", all_last),
        ("the time order is reversed: process x[0] first, then x[1], ...", inputs_reversed),
        ("the time order is reversed: process x[0] first, then x[1], ...", inputs_and_outputs_reversed),
        ("the outputs are stored in reverse time order: out[t] must be the state after step t",
         outputs_reversed),
        ("out has T - 1 states: the last step is missing (loop over all T steps: range(T), not range(T - 1))",
         last_step_missing),
        ("out has T - 1 states: the first input x[0] is skipped (loop over all T steps, from t = 0)",
         first_input_skipped),
        ("the states are stacked along the wrong axis: out is (T, N, H), time first, or (N, T, H) with "
         "batch_first=True", wrong_stack_axis),
    ]


def test_rnn_forward(student):
    """Part 4: a batched sequence forward pass"""
    check_cases(student, ref.rnn_forward, _sequence_cases(), describe=_describe_sequence, select=pair_first,
           variants=_sequence_variants(), hints=SEQUENCE_HINTS)


# ----------------------------------------------------------------------------- Part 5
MANY_TO_ONE_HINTS = [
    ("matmul", "V has shape (O, H), so the read-out is h @ V.T + c: the provided output_layer(h, V, c) does it"),
    ("inhomogeneous", "rnn_forward returns a pair (out, cache): unpack it, out, _ = rnn_forward(...), "
                      "then read out[-1]"),
    ("values to unpack", "rnn_forward returns a pair (out, cache): out, _ = rnn_forward(...)"),
]


def _prediction(result):
    if isinstance(result, tuple):
        raise WrongStructure(f"should return only the prediction y, an array of shape (N, O); it returned a "
                             f"tuple of {len(result)} items.")
    return result


def _describe_many_to_one(case):
    T, N, D = case["x"].shape
    H, O = len(case["W_hh"]), len(case["V"])
    return _sizes(case, T=T, N=N, D=D, H=H, O=O) + ", a non-zero h0"


def test_many_to_one(student):
    """Part 5: a many-to-one prediction"""
    cases = []
    for seed, (T, N, D, H, O) in enumerate([(6, 4, 3, 7, 1), (3, 2, 2, 4, 3), (5, 3, 2, 5, 2)]):
        rng = np.random.default_rng(300 + seed)
        case = {"x": rng.normal(size=(T, N, D)), "h0": rng.uniform(-1, 1, size=(N, H)), **_weights(rng, D, H)}
        case.update(V=rng.normal(size=(O, H)), c=rng.normal(size=O))
        cases.append(case)

    def from_first_step(x, **c):
        return ref.many_to_one_forward(x[:1], **c)

    def states(x, h0, W_ih, W_hh, b_ih, b_hh):
        return ref.rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)[0]

    def mean_of_states(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
        return ref.output_layer(states(x, h0, W_ih, W_hh, b_ih, b_hh).mean(axis=0), V, c)

    def last_sequence(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
        return ref.output_layer(states(x, h0, W_ih, W_hh, b_ih, b_hh)[:, -1], V, c)

    check_cases(student, ref.many_to_one_forward, cases, describe=_describe_many_to_one, select=_prediction,
           hints=MANY_TO_ONE_HINTS, variants=[
               ("the prediction must come from the LAST hidden state, out[-1]; yours comes from the first",
                from_first_step),
               ("the initial state h0 is ignored: pass h0 on to rnn_forward",
                lambda h0, **c: ref.many_to_one_forward(h0=0 * h0, **c)),
               ("the output bias c is missing: y = h_T @ V.T + c",
                lambda c, **rest: ref.many_to_one_forward(c=0 * c, **rest)),
               ("the prediction must come from the last hidden state, not from the average over time",
                mean_of_states),
               ("out[:, -1] is the last sequence of the batch at every step, not the last step: the last "
                "hidden state is out[-1], of shape (N, H)", last_sequence),
           ])
