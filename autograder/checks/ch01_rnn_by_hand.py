"""Hidden checks for chapter 1, "RNN steps by hand"."""
import numpy as np

from autograder.checking import check_function, pair_first
from solutions import rnn as ref


SHAPE_HINTS = [
    ("matmul", "check the weight layout: W_ih has shape (H, D) and W_hh (H, H), one row per "
               "hidden unit, so the products are x_t @ W_ih.T and h_prev @ W_hh.T"),
    ("shapes", "check the weight layout: W_ih has shape (H, D), so use x_t @ W_ih.T"),
    ("concatenate", "stack [x_t, h_prev] along the feature axis (axis=1)"),
]


def _weights(rng, D, H, dtype=np.float64):
    return {
        "W_ih": rng.normal(size=(H, D)).astype(dtype),
        "W_hh": (rng.normal(size=(H, H)) / np.sqrt(H)).astype(dtype),
        "b_ih": rng.normal(size=H).astype(dtype),
        "b_hh": rng.normal(size=H).astype(dtype),
    }


def _step_cases():
    cases = []
    for seed, (N, D, H, dtype) in enumerate([(4, 3, 7, np.float64), (1, 5, 5, np.float64),
                                             (6, 2, 3, np.float32)]):
        rng = np.random.default_rng(100 + seed)
        cases.append({"x_t": rng.normal(size=(N, D)).astype(dtype),
                      "h_prev": rng.uniform(-1, 1, size=(N, H)).astype(dtype),
                      **_weights(rng, D, H, dtype)})
    return cases


def _step_variants(reference):
    """Known mistakes for functions that take (x_t, h_prev, W_ih, W_hh, b_ih, b_hh)."""
    def without(**changes):
        return lambda **case: reference(**{**case, **{k: f(case) for k, f in changes.items()}})

    return [
        ("the bias is missing: add both b_ih and b_hh",
         without(b_ih=lambda c: 0 * c["b_ih"], b_hh=lambda c: 0 * c["b_hh"])),
        ("only one of the two biases is added: the step uses b_ih + b_hh",
         without(b_hh=lambda c: 0 * c["b_hh"])),
        ("only one of the two biases is added: the step uses b_ih + b_hh",
         without(b_ih=lambda c: 0 * c["b_ih"])),
        ("the recurrence is missing: the previous hidden state must enter through h_prev @ W_hh.T",
         without(h_prev=lambda c: 0 * c["h_prev"])),
        ("the input term is missing: x_t must enter through x_t @ W_ih.T",
         without(x_t=lambda c: 0 * c["x_t"])),
        ("a weight matrix is used without its transpose (W_hh instead of W_hh.T)",
         without(W_hh=lambda c: c["W_hh"].T)),
        ("a weight matrix is used without its transpose (W_ih instead of W_ih.T)",
         without(W_ih=lambda c: c["W_ih"].T)),
    ]


def _activation_variants(pre_activation):
    """Mistakes in the nonlinearity, given a function returning the pre-activation z."""
    return [
        ("the tanh is missing: h = tanh(z), not z", pre_activation),
        ("the activation is wrong: this step uses tanh, and you seem to use a sigmoid",
         lambda **case: 1 / (1 + np.exp(-pre_activation(**case)))),
        ("the activation is wrong: this step uses tanh, and you seem to use relu",
         lambda **case: np.maximum(pre_activation(**case), 0)),
    ]


def _step_z(x_t, h_prev, W_ih, W_hh, b_ih, b_hh):
    return x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh


def test_rnn_step_scalar(student):
    """Part 1: one step of a single recurrent neuron"""
    cases = [dict(x_t=1.0, h_prev=0.0, w_x=0.5, w_h=0.8, b=0.1)]
    rng = np.random.default_rng(1)
    cases += [dict(zip(["x_t", "h_prev", "w_x", "w_h", "b"], map(float, rng.normal(size=5))))
              for _ in range(5)]
    z = lambda x_t, h_prev, w_x, w_h, b: w_x * x_t + w_h * h_prev + b
    check_function(student, ref.rnn_step_scalar, cases,
                   variants=[
                       ("the tanh is missing: h_t = tanh(w_x x_t + w_h h_prev + b)", z),
                       ("the bias b is missing", lambda b, **c: ref.rnn_step_scalar(b=0.0, **c)),
                       ("the recurrent term w_h * h_prev is missing",
                        lambda h_prev, **c: ref.rnn_step_scalar(h_prev=0.0, **c)),
                       ("the input term w_x * x_t is missing",
                        lambda x_t, **c: ref.rnn_step_scalar(x_t=0.0, **c)),
                       ("w_x and w_h are swapped: w_x multiplies the input x_t, w_h the previous state",
                        lambda w_x, w_h, **c: ref.rnn_step_scalar(w_x=w_h, w_h=w_x, **c)),
                   ])


def test_rnn_step_forward(student):
    """Part 2: one batched RNN step, (h_next, cache)"""
    check_function(student, ref.rnn_step_forward, _step_cases(), select=pair_first,
                   variants=[(m, lambda f=f, **c: (f(**c), None)) for m, f in
                             _activation_variants(_step_z)]
                   + [(m, v) for m, v in _step_variants(ref.rnn_step_forward)],
                   hints=SHAPE_HINTS)
    relu_cases = [dict(case, nonlinearity="relu") for case in _step_cases()[:2]]
    check_function(student, ref.rnn_step_forward, relu_cases, select=pair_first,
                   variants=[("nonlinearity='relu' is ignored: with relu, h = max(z, 0)",
                              lambda nonlinearity, **c: ref.rnn_step_forward(**c))],
                   hints=SHAPE_HINTS)


def test_rnn_step_combined(student):
    """Part 3: the combined [W_ih, W_hh] matrix"""
    cases = [{"W_ih": c["W_ih"], "W_hh": c["W_hh"]} for c in _step_cases()]
    check_function(student, ref.combine_weights, cases,
                   variants=[("the blocks are in the wrong order: W = [W_ih, W_hh], input weights first",
                              lambda W_ih, W_hh: np.concatenate([W_hh, W_ih], axis=1))],
                   hints=SHAPE_HINTS)
    combined = [{"x_t": c["x_t"], "h_prev": c["h_prev"], "W": ref.combine_weights(c["W_ih"], c["W_hh"]),
                 "b": c["b_ih"] + c["b_hh"]} for c in _step_cases()]
    z = lambda x_t, h_prev, W, b: np.concatenate([x_t, h_prev], axis=1) @ W.T + b
    check_function(student, ref.rnn_step_combined, combined,
                   variants=_activation_variants(z) + [
                       ("the bias b is missing", lambda b, **c: ref.rnn_step_combined(b=0 * b, **c)),
                       ("[x_t, h_prev] is stacked in the wrong order: inputs first, then the state",
                        lambda x_t, h_prev, W, b: np.tanh(np.concatenate([h_prev, x_t], axis=1) @ W.T + b))],
                   hints=SHAPE_HINTS)


def _sequence_cases():
    cases = []
    for seed, (T, N, D, H, dtype) in enumerate([(5, 4, 3, 7, np.float64), (1, 2, 4, 4, np.float64),
                                                (8, 3, 2, 5, np.float32)]):
        rng = np.random.default_rng(200 + seed)
        cases.append({"x": rng.normal(size=(T, N, D)).astype(dtype),
                      "h0": rng.uniform(-1, 1, size=(N, H)).astype(dtype), **_weights(rng, D, H, dtype)})
    return cases


def _sequence_variants():
    def reversed_time(x, **c):
        out, cache = ref.rnn_forward(x[::-1], **c)
        return out, cache

    def outputs_reversed(**c):
        out, cache = ref.rnn_forward(**c)
        return out[::-1], cache

    def h0_ignored(h0, **c):
        return ref.rnn_forward(h0=0 * h0, **c)

    def state_not_carried(x, h0, **c):
        outs = [ref.rnn_step_forward(x_t, h0, **c)[0] for x_t in x]
        return np.stack(outs), None

    return [
        ("the hidden state is not carried from step to step: every step gets h0 instead of the "
         "previous step's h", state_not_carried),
        ("the initial state h0 is ignored (replaced by zeros)", h0_ignored),
        ("the time order is reversed: process x[0] first, then x[1], ...", reversed_time),
        ("the outputs are stored in reverse time order: out[t] must be the state after step t",
         outputs_reversed),
    ]


def test_rnn_forward(student):
    """Part 4: a batched sequence forward pass"""
    cases = _sequence_cases()
    check_function(student, ref.rnn_forward, cases, select=pair_first, variants=_sequence_variants(), hints=SHAPE_HINTS)
    batch_first = [dict(c, x=c["x"].transpose(1, 0, 2), batch_first=True) for c in cases[:2]]
    check_function(student, ref.rnn_forward, batch_first, select=pair_first,
                   variants=[("batch_first=True is ignored: with batch_first, x is (N, T, D) and out is (N, T, H)",
                              lambda batch_first, **c: ref.rnn_forward(**c))],
                   hints=SHAPE_HINTS)


def test_many_to_one(student):
    """Part 5: a many-to-one prediction"""
    cases = []
    for seed, (T, N, D, H, O) in enumerate([(6, 4, 3, 7, 1), (3, 2, 2, 4, 3)]):
        rng = np.random.default_rng(300 + seed)
        case = {"x": rng.normal(size=(T, N, D)), "h0": np.zeros((N, H)), **_weights(rng, D, H)}
        case.update(V=rng.normal(size=(O, H)), c=rng.normal(size=O))
        cases.append(case)

    def from_first_step(x, **c):
        return ref.many_to_one_forward(x[:1], **c)

    def mean_of_states(x, h0, W_ih, W_hh, b_ih, b_hh, V, c):
        out, _ = ref.rnn_forward(x, h0, W_ih, W_hh, b_ih, b_hh)
        return ref.output_layer(out.mean(axis=0), V, c)

    def no_output_bias(c, **rest):
        return ref.many_to_one_forward(c=0 * c, **rest)

    check_function(student, ref.many_to_one_forward, cases,
                   variants=[("the prediction must come from the LAST hidden state, out[-1]; yours "
                              "comes from the first", from_first_step),
                             ("the prediction must come from the last hidden state, not from the "
                              "average over time", mean_of_states),
                             ("the output bias c is missing: y = h_T @ V.T + c", no_output_bias)],
                   hints=SHAPE_HINTS)
