"""Hidden checks for chapter 4, "Deep and bidirectional stacks".

Each check runs the student's function on seeded cases chosen so that no mistake can hide: D != H
first and D = H (or D = 2H for a bidirectional stack) once, so that x fed to every layer gives
numbers instead of a shape error; one, two and three layers; non-zero initial states everywhere,
different for every layer and direction (a state taken from the wrong row shows); N != T and N = 1
once, T = 1 once; RNN (tanh and relu) and LSTM cells; float32 once. The expected values come from
solutions.stacks, itself checked against torch.nn.RNN / LSTM in float64 with copied weights
(tests/test_stacks_reference.py).

The stacks run the student's own chapter 1 and chapter 3 steps (pasted into ungraded cells)
through the given `direction_forward`. Those are not graded again: each stack's check first runs
the pasted steps once, and when one gives other results than the course's, the stack is graded
against stacks built on the student's own steps (called in the student's process), so a wrong
paste costs no marks here. A pasted step that raises, or returns another structure, stops the
stacks; the message then names the pasted cell, not the stack.

A known mistake (a variant) is named only when it explains the student's results on every case
where both can be computed (`autograder.checking.check_cases`); the mistakes these checks must
name, and the fair answers they must accept, are listed as student code in
autograder/mutants/ch04_stacks.py (`make mutants ASSIGNMENT=ch04_stacks`).
"""
import numpy as np

from autograder.checking import (TRACEBACK_HEADING, CheckFailed, StudentCodeError, WrongStructure, check_cases,
                                 compare, describe_value, explain_error, has_float32, mistakes_of, sizes, tuple_of)
from solutions import lstm as lstm_ref
from solutions import rnn as rnn_ref
from solutions import stacks as ref


# ----------------------------------------------------------------------------- the pasted steps
def _paste_failed(name, chapter, problem):
    return CheckFailed(f"your pasted `{name}` from chapter {chapter} (not graded here) {problem}; the stacks run "
                       f"it through the given `direction_forward`, so fix it first: the cell `check_steps` after "
                       "it says what is wrong.")


# the pasted steps: the chapter they come from, how many items they return (their new states, then
# a cache), the course's step
PASTED_STEPS = {"rnn_step_forward": (1, 2, rnn_ref.rnn_step_forward),
                "lstm_step_forward": (3, 3, lstm_ref.lstm_step_forward)}


def _own_steps(student):
    """None when the learner's pasted rnn_step_forward and lstm_step_forward give the course's
    results on a probe each; otherwise their steps as a dict {"rnn": f, "lstm": f}, calling the
    student's code, so that a stack is graded on the steps it runs (the pasted cells are not graded
    again). A pasted step that raises or returns another structure stops the check, naming it."""
    rng = np.random.default_rng(499)
    N, D, H = 2, 3, 2
    x, h, c = rng.normal(size=(N, D)), rng.normal(size=(N, H)), rng.normal(size=(N, H))
    w_rnn = [rng.normal(size=(H, D)), rng.normal(size=(H, H)), rng.normal(size=H), rng.normal(size=H)]
    w_lstm = [rng.normal(size=(4 * H, D)), rng.normal(size=(4 * H, H)), rng.normal(size=4 * H),
              rng.normal(size=4 * H)]
    calls = [("rnn_step_forward", (x, h, *w_rnn, nonlinearity)) for nonlinearity in ("tanh", "relu")]
    calls.append(("lstm_step_forward", (x, h, c, *w_lstm)))
    probes = [(name, args, PASTED_STEPS[name][2](*args)) for name, args in calls]
    differ = False
    for name, args, expected in probes:
        got = _pasted_call(student, name, *args)
        differ = differ or compare(tuple(got[:-1]), tuple(expected[:-1])) is not None  # the states, not the cache
    if not differ:
        return None
    return {"rnn": lambda *args: _pasted_call(student, "rnn_step_forward", *args),
            "lstm": lambda *args: _pasted_call(student, "lstm_step_forward", *args)}


def _pasted_call(student, name, *args):
    """The student's pasted step called, checked for its structure."""
    chapter, length, _ = PASTED_STEPS[name]
    try:
        got = getattr(student, name)(*args)
    except StudentCodeError as error:
        said = explain_error(name, error).partition(TRACEBACK_HEADING)[0]
        raise _paste_failed(name, chapter, "raised an error: " + said.rstrip("."))
    if not isinstance(got, (tuple, list)) or len(got) != length:
        raise _paste_failed(name, chapter, f"returned {describe_value(got)}, not a tuple of {length} items as in "
                                           f"chapter {chapter}")
    return got


def _direction(x, h0, c0, w, cell, nonlinearity, steps=None):
    """The given direction_forward, on the course's steps or on ``steps`` (the student's own)."""
    if steps is None:
        return ref.direction_forward(x, h0, c0, w, cell, nonlinearity)
    h, c, hs = h0, c0, []
    for x_t in x:
        if cell == "lstm":
            h, c = steps["lstm"](x_t, h, c, *w)[:2]
        else:
            h = steps["rnn"](x_t, h, *w, nonlinearity)[0]
        hs.append(np.asarray(h))
    return np.stack(hs), h, c


# ----------------------------------------------------------------------------- cases
def _stack_case(seed, T, N, D, H, L, cell, bidirectional, nonlinearity=None, dtype=np.float64):
    rng = np.random.default_rng(seed)
    dirs = 2 if bidirectional else 1
    weights = ref.stack_weights(D, H, "lstm" if cell == "lstm" else "rnn", L, bidirectional, rng=rng)
    weights = {k: (v * 1.5).astype(dtype) for k, v in weights.items()}  # states far from zero
    case = {"x": rng.normal(size=(T, N, D)).astype(dtype),
            "h0": rng.normal(size=(L * dirs, N, H)).astype(dtype),
            "c0": rng.normal(size=(L * dirs, N, H)).astype(dtype) if cell == "lstm" else None,
            "weights": weights, "num_layers": L, "cell": cell}
    if nonlinearity is not None:
        case["nonlinearity"] = nonlinearity
    return case


def _deep_cases():
    """D = H first (x fed to every layer, or layer 0's weights everywhere, give numbers to name),
    D != H for 1 to 3 layers, N = 1, T = 1, relu, float32."""
    return [_stack_case(400 + i, *spec) for i, spec in enumerate([
        (4, 3, 3, 3, 2, "rnn", False), (5, 2, 2, 3, 3, "rnn", False), (3, 2, 3, 2, 2, "lstm", False),
        (4, 3, 2, 2, 3, "lstm", False), (3, 1, 2, 3, 1, "rnn", False), (1, 2, 3, 2, 2, "lstm", False),
        (4, 2, 3, 3, 2, "rnn", False, "relu"), (3, 2, 2, 3, 2, "lstm", False, None, np.float32)])]


def _bidirectional_cases():
    """D = 2H first (x fed to every layer gives numbers to name), D != 2H for one to three layers,
    T = 1, N = 1, relu, float32."""
    return [_stack_case(420 + i, *spec) for i, spec in enumerate([
        (4, 3, 4, 2, 2, "rnn", True), (5, 2, 3, 2, 2, "rnn", True), (3, 2, 3, 2, 3, "lstm", True),
        (4, 3, 2, 3, 1, "lstm", True), (4, 2, 6, 3, 2, "lstm", True), (1, 2, 3, 2, 2, "rnn", True),
        (3, 1, 2, 3, 3, "rnn", True, "relu"), (3, 2, 3, 2, 2, "lstm", True, None, np.float32)])]


def _describe_stack(case):
    (T, N, D), H = case["x"].shape, case["h0"].shape[2]
    nonlinearity = f", nonlinearity={case['nonlinearity']!r}" if "nonlinearity" in case else ""
    return (f"cell={case['cell']!r}{nonlinearity}, num_layers={case['num_layers']}, "
            + sizes(has_float32(case), T=T, N=N, D=D, H=H) + ", every initial state non-zero")


STACK_HINTS = [
    ("matmul", "layer 0 reads x (D features); every later layer reads the previous layer's output, H features "
               "(2H when bidirectional: both directions concatenated), which is what weight_ih_l{k} expects"),
    ("KeyError", "the weights are named like torch's state_dict: weight_ih_l{k}, weight_hh_l{k}, bias_ih_l{k}, "
                 "bias_hh_l{k}, and _reverse after them for the backward direction; layer_weights(weights, k, "
                 "reverse) picks them"),
    ("index", "h0 and c0 have one row per layer (and direction): h0[k] for layer k, h0[2k + d] when "
              "bidirectional"),
]


def _stack_result(result):
    """(output, h_n, c_n) of a stack, checked for its structure (c_n is None for an RNN)."""
    output, h_n, c_n = tuple_of(3, "output, h_n, c_n")(result)
    if h_n is None:
        raise WrongStructure("returned None second, where h_n goes: it should return (output, h_n, c_n), "
                             "c_n being None unless cell='lstm' (are h_n and c_n swapped?)")
    return output, h_n, c_n


# ----------------------------------------------------------------------------- Part 1
def _deep(x, h0, c0, weights, num_layers, cell="rnn", nonlinearity="tanh", *, feed="output", state_row="k",
          weights_of="k", out_of="last", h_order="layer", swap_hc=False, h_only_last=False, no_c=False,
          act=None, steps=None):
    """deep_forward with one mistake: feed "x" (every layer reads x); state_row "0" (every layer from
    h0[0]); weights_of "0"; out_of "first"; h_order "reversed"; swap_hc; h_only_last; no_c (c_n
    None); act (a fixed nonlinearity)."""
    nonlinearity = act or nonlinearity
    h_n, c_n, inp, outs = [], [], x, []
    for k in range(num_layers):
        row = 0 if state_row == "0" else k
        w = ref.layer_weights(weights, 0 if weights_of == "0" else k)
        out, h, c = _direction(inp, h0[row], None if c0 is None else c0[row], w, cell, nonlinearity, steps)
        outs.append(out)
        h_n.append(h)
        c_n.append(c)
        inp = x if feed == "x" else out
    if h_order == "reversed":
        h_n, c_n = h_n[::-1], c_n[::-1]
    h_n = h_n[-1] if h_only_last else np.stack(h_n)
    c_n = None if cell != "lstm" or no_c else (c_n[-1] if h_only_last else np.stack(c_n))
    if swap_hc:
        h_n, c_n = c_n, h_n
    return outs[0] if out_of == "first" else outs[-1], h_n, c_n


def _deep_variants(steps=None):
    mistake = mistakes_of(_deep, steps=steps)
    return [
        ("every layer reads x: layer k + 1 reads layer k's output (the hidden states it returns), only layer 0 "
         "reads x", mistake(feed="x")),
        ("every layer starts from h0[0] (and c0[0]): layer k starts from its own row, h0[k] and c0[k]",
         mistake(state_row="0")),
        ("every layer uses layer 0's weights: layer k has its own, weight_ih_l{k}, weight_hh_l{k}, ... "
         "(layer_weights(weights, k))", mistake(weights_of="0")),
        ("output is the first layer's: a stack returns the last layer's hidden states", mistake(out_of="first")),
        ("h_n (and c_n) list the layers last first: h_n[k] is layer k's final state, h_n[0] the first layer's",
         mistake(h_order="reversed")),
        ("h_n holds only the last layer's final state: it holds every layer's, shape (L, N, H), h_n[k] for "
         "layer k", mistake(h_only_last=True)),
        ("h_n and c_n are swapped: return (output, h_n, c_n)", mistake(swap_hc=True)),
        ("c_n is None for an LSTM: return every layer's final cell states, shape (L, N, H)", mistake(no_c=True)),
        ("nonlinearity is ignored: pass it on to direction_forward (tanh or relu for cell='rnn')",
         mistake(act="tanh")),
    ]


def test_deep_forward(student):
    """Part 1: a deep (unidirectional) stack"""
    steps = _own_steps(student)
    reference = ref.deep_forward if steps is None else lambda **case: _deep(**case, steps=steps)
    check_cases(student, reference, _deep_cases(), name="deep_forward", describe=_describe_stack,
                select=_stack_result, variants=_deep_variants(steps), hints=STACK_HINTS)


# ----------------------------------------------------------------------------- Part 2
def _bidirectional(x, h0, c0, weights, num_layers, cell="rnn", nonlinearity="tanh", *, h_order="layer",
                   reverse="both", h_backward="final", backward_first=False, backward_weights="reverse",
                   feed="both", state_row="own", no_c=False, act=None, steps=None):
    """bidirectional_forward with one mistake: h_order "direction" (direction-major h_n); reverse
    "input" (outputs not reversed back), "none" (the backward direction reads x forwards),
    "output" (it reads x forwards and its outputs are reversed); h_backward "output_last"
    (output[-1, :, H:]); backward_first; backward_weights "forward"; feed "x" (every layer reads
    x); state_row "forward" (both directions from h0[2k]), "layer0" (every layer from h0[d]); no_c;
    act (a fixed nonlinearity)."""
    nonlinearity = act or nonlinearity
    h_n, c_n, inp = {}, {}, x
    for k in range(num_layers):
        outs = []
        for d in range(2):
            j = {"own": 2 * k + d, "forward": 2 * k, "layer0": d}[state_row]
            w = ref.layer_weights(weights, k, reverse=d == 1 and backward_weights == "reverse")
            seq = inp[::-1] if d == 1 and reverse in ("both", "input") else inp
            out, h, c = _direction(seq, h0[j], None if c0 is None else c0[j], w, cell, nonlinearity, steps)
            if d == 1 and reverse in ("both", "output"):
                out = out[::-1]
            outs.append(out)
            h_n[k, d] = out[-1] if d == 1 and h_backward == "output_last" else h
            c_n[k, d] = c
        y = np.concatenate(outs[::-1] if backward_first else outs, axis=-1)
        inp = x if feed == "x" else y
    order = [(k, d) for k in range(num_layers) for d in range(2)]
    if h_order == "direction":
        order = [(k, d) for d in range(2) for k in range(num_layers)]
    c_out = None if cell != "lstm" or no_c else np.stack([c_n[key] for key in order])
    return y, np.stack([h_n[key] for key in order]), c_out


def _bidirectional_variants(steps=None):
    mistake = mistakes_of(_bidirectional, steps=steps)
    return [
        ("h_n is direction-major (every layer's forward state, then every layer's backward state): torch's h_n is "
         "layer-major, h_n[2k] is layer k's forward direction and h_n[2k + 1] its backward direction",
         mistake(h_order="direction")),
        ("the backward direction's outputs are not reversed back: it reads x[::-1], so its outputs come out in "
         "reversed time; reverse them again so that output[t] belongs to x[t]", mistake(reverse="input")),
        ("the backward direction reads x forwards: run it over the reversed input x[::-1], then reverse its "
         "outputs back", mistake(reverse="none")),
        ("the backward direction reads x forwards and only its outputs are reversed: reverse the input it reads "
         "(x[::-1]) as well as its outputs", mistake(reverse="output")),
        ("the backward direction's final state is taken from output[-1]: after reversing back, output[-1, :, H:] "
         "has read x[T-1] only; its final state (having read the whole sequence) is the h it returns, equal to "
         "output[0, :, H:]", mistake(h_backward="output_last")),
        ("the directions are concatenated backward first: output[..., :H] is the forward direction, "
         "output[..., H:] the backward one", mistake(backward_first=True)),
        ("the backward direction uses the forward direction's weights: it has its own, named with _reverse "
         "(layer_weights(weights, k, reverse=True))", mistake(backward_weights="forward")),
        ("every layer reads x: layer k + 1 reads layer k's output, both directions concatenated (2H features)",
         mistake(feed="x")),
        ("both directions start from h0[2k]: the backward direction starts from its own row, h0[2k + 1] "
         "(and c0[2k + 1])", mistake(state_row="forward")),
        ("every layer starts from layer 0's initial states: layer k's directions start from h0[2k] and "
         "h0[2k + 1]", mistake(state_row="layer0")),
        ("c_n is None for an LSTM: return every layer's and direction's final cell states, shape (2L, N, H)",
         mistake(no_c=True)),
        ("nonlinearity is ignored: pass it on to direction_forward (tanh or relu for cell='rnn')",
         mistake(act="tanh")),
    ]


def test_bidirectional_forward(student):
    """Part 2: a bidirectional stack, with torch's h_n"""
    steps = _own_steps(student)
    reference = ref.bidirectional_forward if steps is None else lambda **case: _bidirectional(**case, steps=steps)
    check_cases(student, reference, _bidirectional_cases(), name="bidirectional_forward", describe=_describe_stack,
                select=_stack_result, variants=_bidirectional_variants(steps), hints=STACK_HINTS)


# ----------------------------------------------------------------------------- Part 3
def _final_cases(bidirectional):
    """One to three layers, N != H, values that differ in every row (a row from the wrong layer or
    direction shows); also c_n-like arrays of float32 once."""
    cases = []
    for seed, (L, N, H, dtype) in enumerate([(3, 2, 3, np.float64), (1, 3, 2, np.float64), (2, 1, 4, np.float64),
                                             (2, 2, 3, np.float32)]):
        rng = np.random.default_rng(440 + seed + 10 * bidirectional)
        dirs = 2 if bidirectional else 1
        cases.append({"h_n": rng.normal(size=(L * dirs, N, H)).astype(dtype), "num_layers": L,
                      "bidirectional": bidirectional})
    return cases


def _describe_final(case):
    rows, N, H = case["h_n"].shape
    return (f"h_n of shape ({rows}, {N}, {H}), num_layers={case['num_layers']}, "
            f"bidirectional={case['bidirectional']}" + (", float32" if has_float32(case) else ""))


def _both(result):
    return tuple_of(2, "forward, backward")(result)


def _forward_only(result):
    forward, backward = tuple_of(2, "forward, backward")(result)
    if backward is not None:
        raise WrongStructure("should return (forward, None) when bidirectional=False: a stack that is not "
                             "bidirectional has one row per layer and no backward state, so its last layer's "
                             f"final state is h_n[-1]; it returned {describe_value(backward)} second (is "
                             "bidirectional=False ignored?)")
    return forward


def _final(h_n, num_layers, bidirectional, *, pick="last", view="layer"):
    """final_states with a mistake: pick "first" (layer 0), "swapped" (directions swapped); view
    "direction" (h_n read direction-major)."""
    dirs = 2 if bidirectional else 1
    if view == "direction":
        by_layer = h_n.reshape((dirs, num_layers) + h_n.shape[1:]).swapaxes(0, 1)
    else:
        by_layer = h_n.reshape((num_layers, dirs) + h_n.shape[1:])
    last = by_layer[0 if pick == "first" else -1]
    if pick == "swapped":
        return last[-1], last[0]
    return last[0], (last[1] if bidirectional else None)


def _final_variants():
    mistake = mistakes_of(_final)
    return [
        ("h_n is read direction-major (h_n[L - 1] and h_n[2L - 1]): torch's h_n is layer-major, so the last "
         "layer's forward and backward states are h_n[2L - 2] and h_n[2L - 1], i.e. h_n[-2] and h_n[-1]",
         mistake(view="direction")),
        ("the directions are swapped: in each layer the forward state comes first, h_n[2k], then the backward "
         "one, h_n[2k + 1]; the last layer's forward state is h_n[-2], its backward state h_n[-1]",
         mistake(pick="swapped")),
        ("these are the first layer's final states: a classifier reads the last layer's, h_n[-2] and h_n[-1] "
         "(h_n[-1] alone when not bidirectional)", mistake(pick="first")),
    ]


def test_final_states(student):
    """Part 3: the last layer's final states out of h_n"""
    check_cases(student, ref.final_states, _final_cases(True), describe=_describe_final, select=_both,
                variants=_final_variants())
    check_cases(student, ref.final_states, _final_cases(False), describe=_describe_final, select=_forward_only,
                variants=_final_variants())


# ----------------------------------------------------------------------------- Part 4
NORM_HINTS = [
    ("could not be broadcast", "normalise each row over its last axis (keepdims=True keeps the mean and "
                               "variance (N, 1), so they broadcast against z (N, M)); gain and bias have "
                               "shape (M,)"),
]


def _norm_cases():
    """M != N, a row of tiny variance (eps shows), gain and bias far from 1 and 0, eps given once,
    float32 once."""
    cases = []
    for seed, (N, M, eps, dtype) in enumerate([(3, 8, None, np.float64), (4, 4, None, np.float64),
                                               (2, 6, 1e-3, np.float64), (1, 5, None, np.float64),
                                               (3, 4, None, np.float32)]):
        rng = np.random.default_rng(460 + seed)
        z = rng.normal(size=(N, M)) * 3 + 1
        z[-1] = rng.normal(size=M) * 1e-3  # variance near eps
        case = {"z": z.astype(dtype), "gain": rng.normal(size=M).astype(dtype) + 1,
                "bias": rng.normal(size=M).astype(dtype)}
        if eps is not None:
            case["eps"] = eps
        cases.append(case)
    return cases


def _describe_norm(case):
    N, M = case["z"].shape
    eps = f"eps={case['eps']:g}" if "eps" in case else "eps not given (1e-5)"
    return f"z of shape ({N}, {M}), {eps}, its last row of variance near 1e-6" + (
        ", float32" if has_float32(case) else "")


def _norm(z, gain, bias, eps=1e-5, *, axis=-1, ddof=0, root="inside", affine="both"):
    """layer_norm with a mistake: axis 0 (over the batch), ddof 1, root "outside" (eps added to the
    standard deviation), "none" (divided by the variance), "no_eps"; affine "none", "no_bias",
    "swapped" (bias * z + gain)."""
    mean = z.mean(axis=axis, keepdims=True)
    var = z.var(axis=axis, keepdims=True, ddof=ddof)
    scale = {"inside": np.sqrt(var + eps), "outside": np.sqrt(var) + eps, "none": var + eps,
             "no_eps": np.sqrt(var)}[root]
    zhat = (z - mean) / scale
    return {"both": zhat * gain + bias, "none": zhat, "no_bias": zhat * gain, "swapped": zhat * bias + gain}[affine]


def _norm_variants():
    mistake = mistakes_of(_norm)
    return [
        ("the mean and variance are taken over the batch (axis 0), which is batch normalisation: layer "
         "normalisation takes them over each row's features, the last axis", mistake(axis=0)),
        ("the variance is the unbiased one (ddof=1): layer normalisation uses the plain mean of squared "
         "deviations, np.var's default", mistake(ddof=1)),
        ("eps is added to the standard deviation: it is added to the variance, inside the square root, "
         "(z - mean) / sqrt(var + eps)", mistake(root="outside")),
        ("eps is missing: (z - mean) / sqrt(var + eps); it matters for rows of tiny variance",
         mistake(root="no_eps")),
        ("z is divided by the variance: divide by the standard deviation, sqrt(var + eps)", mistake(root="none")),
        ("gain and bias are not applied: LN(z) = (z - mean) / sqrt(var + eps) * gain + bias",
         mistake(affine="none")),
        ("the bias is not added: LN(z) = (z - mean) / sqrt(var + eps) * gain + bias", mistake(affine="no_bias")),
        ("gain and bias are swapped: the normalised z is multiplied by gain, then bias is added",
         mistake(affine="swapped")),
    ]


def _ln_cases():
    """H > 1 (the cell state's norm needs it), D != H first, N = 1 once, gains and biases far from 1 and
    0 (each norm's own parameters show), eps given once, float32 once."""
    cases = []
    for seed, (N, D, H, eps, dtype) in enumerate([(3, 2, 3, None, np.float64), (2, 4, 4, None, np.float64),
                                                  (1, 3, 2, None, np.float64), (4, 3, 3, 1e-3, np.float64),
                                                  (2, 3, 4, None, np.float32)]):
        rng = np.random.default_rng(480 + seed)

        def vec(size, centre=0.0):
            return (rng.normal(size=size) * 0.5 + centre).astype(dtype)
        case = {"x_t": vec((N, D)) * 2, "h_prev": vec((N, H)) * 2, "c_prev": vec((N, H)) * 2,
                "W_ih": vec((4 * H, D)) * 2, "W_hh": vec((4 * H, H)) * 2, "b": vec(4 * H),
                "ln_ih": (vec(4 * H, 1.0), vec(4 * H)), "ln_hh": (vec(4 * H, 1.0), vec(4 * H)),
                "ln_c": (vec(H, 1.0), vec(H))}
        if eps is not None:
            case["eps"] = eps
        cases.append(case)
    return cases


def _describe_ln(case):
    (N, D), H = case["x_t"].shape, case["h_prev"].shape[1]
    eps = f", eps={case['eps']:g}" if "eps" in case else ""
    return sizes(has_float32(case), N=N, D=D, H=H) + eps + ", gains and biases of every norm far from 1 and 0"


def _ln_cell(x_t, h_prev, c_prev, W_ih, W_hh, b, ln_ih, ln_hh, ln_c, eps=1e-5, *, norm="apart", c_norm="tanh",
             per_gate=False, no_b=False, params="own"):
    """ln_lstm_step_forward with a mistake: norm "sum" (one norm of the summed pre-activations),
    "no_hh" / "no_ih" (one pre-activation not normalised), "after_b" (b inside the norms); c_norm
    "none" (tanh(c')), "carried" (c' carried normalised), "outside" (LN(tanh(c'))); per_gate (each
    gate's H entries normalised apart); params "swapped" (ln_ih's gain and bias on W_hh h)."""
    def ln(z, gain, bias):
        if per_gate:
            return np.concatenate([ref.layer_norm(block, g, bb, eps) for block, g, bb in
                                   zip(np.split(z, 4, axis=1), np.split(gain, 4), np.split(bias, 4))], axis=1)
        return ref.layer_norm(z, gain, bias, eps)

    if params == "swapped":
        ln_ih, ln_hh = ln_hh, ln_ih
    a_x, a_h = x_t @ W_ih.T, h_prev @ W_hh.T
    bias = 0 if no_b else b
    a = {"apart": lambda: ln(a_x, *ln_ih) + ln(a_h, *ln_hh) + bias,
         "sum": lambda: ln(a_x + a_h, *ln_ih) + bias,
         "no_hh": lambda: ln(a_x, *ln_ih) + a_h + bias,
         "no_ih": lambda: a_x + ln(a_h, *ln_hh) + bias,
         "after_b": lambda: ln(a_x + b, *ln_ih) + ln(a_h, *ln_hh)}[norm]()
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=1)
    i, f, g, o = lstm_ref.sigmoid(a_i), lstm_ref.sigmoid(a_f), np.tanh(a_g), lstm_ref.sigmoid(a_o)
    c_next = f * c_prev + i * g
    if c_norm == "carried":
        c_next = ref.layer_norm(c_next, *ln_c, eps)
        return o * np.tanh(c_next), c_next, None
    h_next = o * {"tanh": lambda: np.tanh(ref.layer_norm(c_next, *ln_c, eps)), "none": lambda: np.tanh(c_next),
                  "outside": lambda: ref.layer_norm(np.tanh(c_next), *ln_c, eps)}[c_norm]()
    return h_next, c_next, None


def _ln_variants():
    mistake = mistakes_of(_ln_cell)
    return [
        ("the two pre-activations are summed and then normalised once: Ba et al. normalise W_ih x and W_hh h "
         "apart, each with its own gain and bias, and add them: LN(W_ih x) + LN(W_hh h) + b",
         mistake(norm="sum")),
        ("the recurrent pre-activation W_hh h is not normalised: a = LN(W_ih x) + LN(W_hh h) + b",
         mistake(norm="no_hh")),
        ("the input pre-activation W_ih x is not normalised: a = LN(W_ih x) + LN(W_hh h) + b",
         mistake(norm="no_ih")),
        ("b is inside the first norm: it is added after both norms, a = LN(W_ih x) + LN(W_hh h) + b",
         mistake(norm="after_b")),
        ("the cell state is not normalised in the output: Ba et al.'s h = o * tanh(LN(c_next)), with the norm "
         "ln_c", mistake(c_norm="none")),
        ("the cell state is carried normalised: c_next = f * c_prev + i * g is carried as it is; only the "
         "output reads LN(c_next), h = o * tanh(LN(c_next))", mistake(c_norm="carried")),
        ("the norm is applied after the tanh: h = o * tanh(LN(c_next)), the norm inside", mistake(c_norm="outside")),
        ("each gate's H entries are normalised apart: each pre-activation is normalised over all its 4H "
         "entries at once, as in Ba et al.", mistake(per_gate=True)),
        ("the bias b is missing: a = LN(W_ih x) + LN(W_hh h) + b", mistake(no_b=True)),
        ("the norms' parameters are swapped: ln_ih (gain, bias) goes with W_ih x, ln_hh with W_hh h",
         mistake(params="swapped")),
    ]


def _h_c(result):
    return tuple_of(3, "h_next, c_next, cache")(result)[:2]


def test_ln_lstm_step_forward(student):
    """Part 4: layer normalisation and a layer-normalised LSTM step"""
    check_cases(student, ref.layer_norm, _norm_cases(), describe=_describe_norm, variants=_norm_variants(),
                hints=NORM_HINTS)
    check_cases(student, ref.ln_lstm_step_forward, _ln_cases(), describe=_describe_ln, select=_h_c,
                variants=_ln_variants(), hints=NORM_HINTS)
