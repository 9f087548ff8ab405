"""Hidden checks for chapter 3, "LSTM and GRU, equation by equation".

Each check runs the student's function on seeded cases chosen so that no mistake can hide: D != H
first and D = H once (a transpose gives a shape error first, then wrong numbers), N > 1 and N = H
once, H > 1 everywhere (gate blocks read unit by unit, interleaved, give wrong numbers), non-zero
initial states and biases (each bias and each state term shows), batch_first both ways with N != T
and N = T, T = 1 once, float32 inputs, reset_after both ways and omitted. The expected values come
from solutions.lstm, itself checked against torch.nn.LSTM / LSTMCell / GRU / GRUCell in float64
with copied weights, autograd and centred differences (tests/test_lstm_reference.py). The caches
given to the backward pass are built by the reference forward pass and travel to the student's
code as plain data.

A known mistake (a variant) is named only when it explains the student's results on every case
where both can be computed (`autograder.checking.check_cases`), so one lucky match never names
the wrong mistake, and every message says the failing call's inputs in words. The mistakes these
checks must name, and the fair answers they must accept, are listed as student code in
autograder/mutants/ch03_lstm_gru.py (`python -m autograder mutants ch03_lstm_gru`).

The GRU's cache is not graded (no GRU backward pass is asked for): only h_next is compared.
"""
import numpy as np

from autograder.checking import WrongStructure, check_cases, describe_value, has_float32, mistakes_of, sizes, tuple_of
from solutions import lstm as ref

sigmoid = ref.sigmoid


def _weights(rng, D, H, gates, dtype=np.float64):
    return {"W_ih": rng.normal(size=(gates * H, D)).astype(dtype),
            "W_hh": (rng.normal(size=(gates * H, H)) / np.sqrt(H)).astype(dtype),
            "b_ih": rng.normal(size=gates * H).astype(dtype),
            "b_hh": rng.normal(size=gates * H).astype(dtype)}


# ----------------------------------------------------------------------------- Part 1
STEP_CACHE = "(x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next)"
FORWARD_HINTS = [
    ("matmul", "W_ih has shape (4H, D) and W_hh (4H, H): a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh, "
               "shape (N, 4H)"),
    ("could not be broadcast", "the pre-activations a have shape (N, 4H); split them along axis 1 into four "
                               "blocks of H columns, i, f, g, o, each (N, H) like c_prev"),
    ("array split does not result in an equal division", "split a of shape (N, 4H) along axis 1 "
                                                         "(np.split(a, 4, axis=1))"),
]


def _step_cases():
    """D != H first, D = H, N = H, N = 1, float32; non-zero states and biases."""
    cases = []
    for seed, (N, D, H, dtype) in enumerate([
            (3, 2, 4, np.float64), (2, 3, 3, np.float64), (4, 5, 4, np.float64), (1, 2, 3, np.float64),
            (3, 4, 2, np.float32)]):
        rng = np.random.default_rng(300 + seed)
        cases.append({"x_t": rng.normal(size=(N, D)).astype(dtype),
                      "h_prev": rng.normal(size=(N, H)).astype(dtype),
                      "c_prev": rng.normal(size=(N, H)).astype(dtype),
                      **_weights(rng, D, H, 4, dtype)})
    return cases


def _describe_step(case):
    (N, D), H = case["x_t"].shape, case["h_prev"].shape[1]
    return sizes(has_float32(case), N=N, D=D, H=H) + ", non-zero h_prev, c_prev and biases"


def _lstm_step(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh, *, order="ifgo", interleaved=False,
               acts=None, cell="f", out="tanh", swap_out=False, bias_ih=True, bias_hh=True, recurrent=True):
    """(h_next, c_next, None) of one LSTM step with one mistake or more: the blocks read in `order`,
    or unit by unit; activations per gate; the cell rule; h from tanh(c'), c' or tanh(c_prev)."""
    a = x_t @ W_ih.T + (b_ih if bias_ih else 0) + (h_prev @ W_hh.T if recurrent else 0) \
        + (b_hh if bias_hh else 0)
    N, H = h_prev.shape
    blocks = [a.reshape(N, H, 4)[:, :, k] for k in range(4)] if interleaved else np.split(a, 4, axis=1)
    pre = dict(zip(order, blocks))
    act = {"i": sigmoid, "f": sigmoid, "g": np.tanh, "o": sigmoid, **(acts or {})}
    i, f, g, o = (act[k](pre[k]) for k in "ifgo")
    c_next = {"f": f * c_prev + i * g, "none": i * g, "one": c_prev + i * g}[cell]
    h_next = o * {"tanh": np.tanh(c_next), "c": c_next, "c_prev": np.tanh(c_prev)}[out]
    return (c_next, h_next, None) if swap_out else (h_next, c_next, None)


def _step_variants():
    mistake = mistakes_of(_lstm_step)
    swaps = [("figo", "the input and forget gates are swapped"), ("gfio", "the gates i and g are swapped"),
             ("ofgi", "the gates i and o are swapped"), ("igfo", "the gates f and g are swapped"),
             ("iogf", "the gates f and o are swapped")]
    return [
        ("the gates are read in CS231n's order i, f, o, g: torch stacks the blocks of W_ih, W_hh and the "
         "biases i, f, g, o (g third, o fourth)", mistake(order="ifog")),
        *[(f"{words}: torch stacks the blocks i, f, g, o, H rows each", mistake(order=order))
          for order, words in swaps],
        ("the gates are read unit by unit (interleaved): torch stacks all H rows of i, then all H rows of f, "
         "g and o, so a[:, :H] is i, a[:, H:2H] is f...", mistake(interleaved=True)),
        ("the forget gate is missing: c_next = f * c_prev + i * g, not i * g", mistake(cell="none")),
        ("the forget gate is missing (fixed at 1, c_prev + i * g): c_next = f * c_prev + i * g",
         mistake(cell="one")),
        ("g uses the sigmoid: the candidate g is a tanh, g = tanh(a_g); only i, f and o are sigmoids",
         mistake(acts={"g": sigmoid})),
        ("the gates i, f, o use tanh: they are sigmoids, values in (0, 1)",
         mistake(acts={"i": np.tanh, "f": np.tanh, "o": np.tanh})),
        ("the output gate uses tanh: o = sigmoid(a_o)", mistake(acts={"o": np.tanh})),
        ("the input gate uses tanh: i = sigmoid(a_i)", mistake(acts={"i": np.tanh})),
        ("the forget gate uses tanh: f = sigmoid(a_f)", mistake(acts={"f": np.tanh})),
        ("tanh(c) is missing in h: h_next = o * tanh(c_next)", mistake(out="c")),
        ("h uses the old cell state c_prev: h_next = o * tanh(c_next), with the new cell state",
         mistake(out="c_prev")),
        ("h_next and c_next are returned in the wrong order: return h_next, c_next, cache",
         mistake(swap_out=True)),
        ("b_hh is missing: both biases are added, b_ih and b_hh", mistake(bias_hh=False)),
        ("b_ih is missing: both biases are added, b_ih and b_hh", mistake(bias_ih=False)),
        ("the biases are missing: add b_ih and b_hh", mistake(bias_ih=False, bias_hh=False)),
        ("the h_prev term is missing: a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh",
         mistake(recurrent=False)),
    ]


def _h_c(result):
    return tuple_of(3, "h_next, c_next, cache")(result)[:2]


def _step_cache(result):
    cache = tuple_of(3, "h_next, c_next, cache")(result)[2]
    if not isinstance(cache, (tuple, list)) or len(cache) != 7:
        raise WrongStructure(f"should return the cache {STEP_CACHE} third; it returned "
                             f"{describe_value(cache)} there.")
    if not isinstance(cache[5], (tuple, list)) or len(cache[5]) != 4:
        raise WrongStructure(f"should keep the four activated gates (i, f, g, o) as a tuple in the cache, "
                             f"{STEP_CACHE}; it has {describe_value(cache[5])} there.")
    return cache


def _cache_variants():
    def pre_activations(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh):
        h_next, c_next, cache = ref.lstm_step_forward(x_t, h_prev, c_prev, W_ih, W_hh, b_ih, b_hh)
        a = x_t @ W_ih.T + b_ih + h_prev @ W_hh.T + b_hh
        return h_next, c_next, cache[:5] + (tuple(np.split(a, 4, axis=1)), c_next)

    return [(f"the cache holds the pre-activations a: keep the activated gates, {STEP_CACHE}",
             pre_activations)]


def test_lstm_step_forward(student):
    """Part 1: one LSTM step"""
    check_cases(student, ref.lstm_step_forward, _step_cases(), describe=_describe_step, select=_h_c,
                variants=_step_variants(), hints=FORWARD_HINTS)
    check_cases(student, ref.lstm_step_forward, _step_cases(), describe=_describe_step, select=_step_cache,
                variants=_cache_variants(), hints=FORWARD_HINTS)


# ----------------------------------------------------------------------------- Part 2
SEQUENCE_HINTS = FORWARD_HINTS + [
    ("values to unpack", "lstm_step_forward returns (h_next, c_next, cache); lstm_forward returns "
                         "((out, (h_n, c_n)), cache)"),
]


def _sequence_cases():
    """batch_first both ways, N = T (a batch_first ignored gives numbers, not an error) and N != T, T = 1,
    float32, D != H first."""
    cases = []
    for seed, (T, N, D, H, batch_first, dtype) in enumerate([
            (4, 3, 2, 5, False, np.float64), (3, 3, 2, 4, True, np.float64), (3, 2, 3, 2, True, np.float64),
            (5, 2, 4, 3, True, np.float64), (1, 3, 2, 2, False, np.float64), (3, 4, 2, 3, False, np.float32),
            (2, 2, 3, 3, True, np.float32)]):
        rng = np.random.default_rng(320 + seed)
        shape = (N, T, D) if batch_first else (T, N, D)
        case = {"x": rng.normal(size=shape).astype(dtype), "h0": rng.normal(size=(N, H)).astype(dtype),
                "c0": rng.normal(size=(N, H)).astype(dtype), **_weights(rng, D, H, 4, dtype)}
        if batch_first or seed == 0:
            case["batch_first"] = batch_first
        cases.append(case)
    return cases


def _describe_sequence(case):
    batch_first = case.get("batch_first", False)
    (N, H), D = case["h0"].shape, case["x"].shape[2]
    T = case["x"].shape[1 if batch_first else 0]
    given = f"batch_first={batch_first}" if "batch_first" in case else "batch_first not given"
    return f"{given}, x of shape {tuple(case['x'].shape)}, " + sizes(has_float32(case), T=T, N=N, D=D, H=H) \
        + ", non-zero h0 and c0"


def _run(x, h0, c0, W_ih, W_hh, b_ih, b_hh, batch_first=False, *, layout=None, carry_h=True, carry_c=True):
    """lstm_forward as a student writes it, with a hook for each mistake. layout: None (right),
    "ignored" (x read as time-major whatever batch_first says), "out_time_major" (out not
    transposed back), "out_batch_major" (out stacked on axis 1 even when time-major).
    Returns out, h_n, c_n, the step caches."""
    xs = x.transpose(1, 0, 2) if batch_first and layout != "ignored" else x
    h, c, hs, caches = h0, c0, [], []
    for x_t in xs:
        h_new, c_new, step = ref.lstm_step_forward(x_t, h if carry_h else h0, c if carry_c else c0,
                                                   W_ih, W_hh, b_ih, b_hh)
        h, c = h_new, c_new
        hs.append(h)
        caches.append(step)
    out = np.stack(hs)
    if (batch_first and layout not in ("ignored", "out_time_major")) or layout == "out_batch_major":
        out = out.transpose(1, 0, 2)
    return out, h, c, caches


def _out_h_c(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise WrongStructure(f"should return a pair ((out, (h_n, c_n)), cache), as torch.nn.LSTM returns "
                             f"(out, (h_n, c_n)) and the cache next to it, but it returned "
                             f"{describe_value(result)}.")
    first = result[0]
    if not isinstance(first, (tuple, list)) or len(first) != 2:
        raise WrongStructure(f"should return ((out, (h_n, c_n)), cache): its first item should be the pair "
                             f"(out, (h_n, c_n)), but it is {describe_value(first)}.")
    if not isinstance(first[1], (tuple, list)) or len(first[1]) != 2:
        raise WrongStructure(f"should return ((out, (h_n, c_n)), cache): the second item of "
                             f"(out, (h_n, c_n)) should be the pair (h_n, c_n), but it is "
                             f"{describe_value(first[1])}.")
    return (first[0], first[1][0], first[1][1])


def _sequence_variants():
    def mistake(**options):
        def run(**case):
            out, h, c, caches = _run(**case, **options)
            return (out, (h, c)), caches
        return run

    def swapped_states(**case):
        out, h, c, caches = _run(**case)
        return (out, (c, h)), caches

    def with_h0(**case):
        out, h, c, _ = _run(**case)
        bf = case.get("batch_first", False)
        h0 = case["h0"][:, None] if bf else case["h0"][None]
        return (np.concatenate([h0, out], axis=1 if bf else 0), (h, c)), None

    def first_state(**case):
        out, h, c, caches = _run(**case)
        return (out, ((out[:, 0] if case.get("batch_first") else out[0]), c)), caches

    return [
        ("the cell state is not carried: each step gets the c_next of the step before, not c0",
         mistake(carry_c=False)),
        ("the hidden state is not carried: each step gets the h_next of the step before, not h0",
         mistake(carry_h=False)),
        ("h_n and c_n are swapped: return ((out, (h_n, c_n)), cache), as torch.nn.LSTM does", swapped_states),
        ("batch_first=True is ignored: then x has shape (N, T, D); read it time-major first, "
         "x.transpose(1, 0, 2)", mistake(layout="ignored")),
        ("with batch_first=True, out is not transposed back: it should have shape (N, T, H)",
         mistake(layout="out_time_major")),
        ("out has shape (N, T, H) although batch_first=False: time-major out is (T, N, H)",
         mistake(layout="out_batch_major")),
        ("out includes h0: it holds the T states h_1 .. h_T, one per step", with_h0),
        ("h_n is the first step's hidden state: h_n is the last one, the same as out[-1]", first_state),
    ]


def _sequence_cache(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise WrongStructure(f"should return ((out, (h_n, c_n)), cache), but it returned {describe_value(result)}.")
    cache = result[1]
    if not isinstance(cache, (tuple, list)):
        raise WrongStructure(f"should return the list of the T step caches second, but it returned "
                             f"{describe_value(cache)} there.")
    return list(cache)


def _sequence_cache_variants():
    return [("the step caches are in reverse time order: cache[t] is the cache of step t, whose h_prev is h_t",
             lambda **case: (None, _run(**case)[3][::-1]))]


def test_lstm_forward(student):
    """Part 2: an LSTM layer over a sequence"""
    check_cases(student, ref.lstm_forward, _sequence_cases(), describe=_describe_sequence, select=_out_h_c,
                variants=_sequence_variants(), hints=SEQUENCE_HINTS)
    check_cases(student, ref.lstm_forward, _sequence_cases(), describe=_describe_sequence,
                select=_sequence_cache, variants=_sequence_cache_variants(), hints=SEQUENCE_HINTS)


# ----------------------------------------------------------------------------- Part 3
BACKWARD_KEYS = ("dx_t", "dh_prev", "dc_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")
BACKWARD_HINTS = [
    ("matmul", "da, the gradients of the pre-activations, has shape (N, 4H); W_ih is (4H, D) and W_hh "
               "(4H, H), so dx_t = da @ W_ih, dh_prev = da @ W_hh, dW_ih = da.T @ x_t, dW_hh = da.T @ h_prev"),
    ("could not be broadcast", "each gate's gradient da_i, da_f, da_g, da_o has shape (N, H); concatenate "
                               "them along axis 1 into da, shape (N, 4H)"),
    ("values to unpack", f"the cache is {STEP_CACHE}, seven items, the gates a tuple of four"),
]


def _backward_cases():
    """D = H first, N = H once, N = 1, float32, dc_next zero once; caches from the reference forward."""
    cases = []
    for seed, (N, D, H, dtype, dc_zero) in enumerate([
            (3, 4, 4, np.float64, False), (2, 3, 5, np.float64, False), (4, 2, 4, np.float64, False),
            (3, 2, 3, np.float32, False), (1, 3, 2, np.float64, False), (2, 2, 3, np.float64, True)]):
        rng = np.random.default_rng(340 + seed)
        _, _, cache = ref.lstm_step_forward(rng.normal(size=(N, D)).astype(dtype),
                                            rng.normal(size=(N, H)).astype(dtype),
                                            rng.normal(size=(N, H)).astype(dtype), **_weights(rng, D, H, 4, dtype))
        dc_next = rng.normal(size=(N, H)).astype(dtype)
        cases.append({"dh_next": rng.normal(size=(N, H)).astype(dtype),
                      "dc_next": 0 * dc_next if dc_zero else dc_next, "cache": cache})
    return cases


def _describe_backward(case):
    x_t, h_prev = case["cache"][0], case["cache"][1]
    (N, D), H = x_t.shape, h_prev.shape[1]
    zero = ", dc_next zero" if not np.any(case["dc_next"]) else ""
    return sizes(has_float32(case), N=N, D=D, H=H) + zero


def _backward(dh_next, dc_next, cache, *, dc_rule="right", f_uses="c_prev", i_prime=True, f_prime=True,
              g_prime="right", o_rule="right", order="ifgo", dc_prev_f=True, changes=None):
    """lstm_step_backward with one mistake (or more); changes: key -> f(da, cache) for gradients
    computed from the right da the wrong way."""
    x_t, h_prev, c_prev, W_ih, W_hh, (i, f, g, o), c_next = cache
    tanh_c = np.tanh(c_next)
    through_h = {"right": dh_next * o * (1 - tanh_c ** 2), "no_h": 0, "no_next": dh_next * o * (1 - tanh_c ** 2),
                 "no_prime": dh_next * o, "one_minus_tanh": dh_next * o * (1 - tanh_c)}[dc_rule]
    dc = (0 if dc_rule == "no_next" else dc_next) + through_h
    da_i = dc * g * (i * (1 - i) if i_prime else 1)
    da_f = dc * (c_prev if f_uses == "c_prev" else c_next) * (f * (1 - f) if f_prime else 1)
    da_g = dc * i * {"right": 1 - g ** 2, "one_minus_g": 1 - g, "none": 1}[g_prime]
    da_o = {"right": dh_next * tanh_c, "no_tanh": dh_next, "c": dh_next * c_next,
            "dc": dc * tanh_c}[o_rule] * o * (1 - o)
    blocks = dict(zip("ifgo", (da_i, da_f, da_g, da_o)))
    da = np.concatenate([blocks[k] for k in order], axis=1)
    grads = {"dx_t": da @ W_ih, "dh_prev": da @ W_hh, "dc_prev": dc * f if dc_prev_f else dc,
             "dW_ih": da.T @ x_t, "dW_hh": da.T @ h_prev, "db_ih": da.sum(axis=0), "db_hh": da.sum(axis=0)}
    for key, fn in (changes or {}).items():
        grads[key] = fn(da, cache)
    return grads


def _backward_variants():
    def mistake(**options):
        return lambda dh_next, dc_next, cache: _backward(dh_next, dc_next, cache, **options)

    return [
        ("the cell state's gradient misses the path through h: dc = dc_next + dh_next * o * "
         "(1 - tanh(c_next)**2)", mistake(dc_rule="no_h")),
        ("dc_next is ignored: the cell state's gradient is dc = dc_next + dh_next * o * (1 - tanh(c_next)**2)",
         mistake(dc_rule="no_next")),
        ("tanh'(c_next) is missing: the path through h = o * tanh(c) gives dh_next * o * (1 - tanh(c_next)**2)",
         mistake(dc_rule="no_prime")),
        ("tanh'(c_next) is 1 - tanh(c_next)**2, not 1 - tanh(c_next)", mistake(dc_rule="one_minus_tanh")),
        ("dc_prev misses the forget gate: c_next = f * c_prev + i * g, so dc_prev = dc * f",
         mistake(dc_prev_f=False)),
        ("da_f uses c_next: the forget gate multiplies c_prev, so da_f = dc * c_prev * f * (1 - f)",
         mistake(f_uses="c_next")),
        ("da_i misses the sigmoid's derivative i * (1 - i)", mistake(i_prime=False)),
        ("da_f misses the sigmoid's derivative f * (1 - f)", mistake(f_prime=False)),
        ("da_g uses 1 - g: tanh'(a_g) = 1 - g**2", mistake(g_prime="one_minus_g")),
        ("da_g misses tanh's derivative 1 - g**2", mistake(g_prime="none")),
        ("da_o misses tanh(c_next): h = o * tanh(c), so da_o = dh_next * tanh(c_next) * o * (1 - o)",
         mistake(o_rule="no_tanh")),
        ("da_o uses c_next itself: h = o * tanh(c), so da_o = dh_next * tanh(c_next) * o * (1 - o)",
         mistake(o_rule="c")),
        ("da_o uses dc: the output gate only reaches h, so da_o = dh_next * tanh(c_next) * o * (1 - o)",
         mistake(o_rule="dc")),
        ("the gate gradients are stacked i, f, o, g (CS231n's order): stack them in torch's order, i, f, g, o",
         mistake(order="ifog")),
        ("the gate gradients of i and f are swapped: stack them i, f, g, o", mistake(order="figo")),
        ("dW_ih and dW_hh are transposed: dW_ih = da.T @ x_t, shape (4H, D), dW_hh = da.T @ h_prev",
         mistake(changes={"dW_ih": lambda da, c: c[0].T @ da, "dW_hh": lambda da, c: c[1].T @ da})),
        ("dW_ih is transposed: dW_ih = da.T @ x_t, shape (4H, D)",
         mistake(changes={"dW_ih": lambda da, c: c[0].T @ da})),
        ("dW_hh is transposed: dW_hh = da.T @ h_prev, shape (4H, H)",
         mistake(changes={"dW_hh": lambda da, c: c[1].T @ da})),
        ("db_ih and db_hh are summed over the wrong axis: sum da over the batch, axis 0, shape (4H,)",
         mistake(changes={"db_ih": lambda da, c: da.sum(axis=1), "db_hh": lambda da, c: da.sum(axis=1)})),
        ("db_ih and db_hh are means over the batch: the gradient is the sum over the N examples",
         mistake(changes={"db_ih": lambda da, c: da.mean(axis=0), "db_hh": lambda da, c: da.mean(axis=0)})),
        ("db_hh is missing (zero): b_hh is added like b_ih, so both get da summed over the batch",
         mistake(changes={"db_hh": lambda da, c: np.zeros(da.shape[1])})),
        ("dh_prev uses c_prev's gradient: dh_prev = da @ W_hh (the gradient of h_prev goes through the gates)",
         lambda dh_next, dc_next, cache: {**_backward(dh_next, dc_next, cache),
                                          "dh_prev": _backward(dh_next, dc_next, cache)["dc_prev"]}),
    ]


def _dict_of(keys):
    def select(result):
        if not isinstance(result, dict):
            raise WrongStructure(f"should return a dict of gradients with the keys {', '.join(keys)}, but it "
                                 f"returned {describe_value(result)}.")
        return result
    return select


def test_lstm_step_backward(student):
    """Part 3: one LSTM step backwards"""
    check_cases(student, ref.lstm_step_backward, _backward_cases(), describe=_describe_backward,
                select=_dict_of(BACKWARD_KEYS), variants=_backward_variants(), hints=BACKWARD_HINTS)


# ----------------------------------------------------------------------------- Part 4
GRU_HINTS = [
    ("matmul", "W_ih has shape (3H, D) and W_hh (3H, H): x_t @ W_ih.T + b_ih has shape (N, 3H), blocks r, z, n"),
    ("could not be broadcast", "split the (N, 3H) products into three blocks of H columns, r, z, n, "
                               "each (N, H) like h_prev"),
]


def _gru_cases():
    """reset_after both ways and omitted (torch's default), D != H first, N = H once, float32."""
    cases = []
    for seed, (N, D, H, reset_after, dtype) in enumerate([
            (3, 2, 4, True, np.float64), (2, 3, 3, False, np.float64), (3, 4, 2, None, np.float64),
            (4, 2, 4, False, np.float64), (2, 3, 2, True, np.float32), (1, 2, 3, False, np.float64),
            (2, 4, 3, None, np.float32)]):
        rng = np.random.default_rng(360 + seed)
        case = {"x_t": rng.normal(size=(N, D)).astype(dtype), "h_prev": rng.normal(size=(N, H)).astype(dtype),
                **_weights(rng, D, H, 3, dtype)}
        if reset_after is not None:
            case["reset_after"] = reset_after
        cases.append(case)
    return cases


def _describe_gru(case):
    (N, D), H = case["x_t"].shape, case["h_prev"].shape[1]
    given = f"reset_after={case['reset_after']}" if "reset_after" in case else "reset_after not given (True)"
    return f"{given}, " + sizes(has_float32(case), N=N, D=D, H=H) + ", non-zero h_prev and biases"


def _gru(x_t, h_prev, W_ih, W_hh, b_ih, b_hh, reset_after=True, *, placement=None, order="rzn", swap_z=False,
         b_hn="right", reset_in_mix=False, act_n=np.tanh, act_gates=sigmoid, bias_ih=True, bias_hh=True,
         recurrent=True):
    """(h_next, None) of one GRU step with a mistake; placement: None (as reset_after says), "after" (torch's,
    always) or "before" (Cho et al.'s, always); b_hn: "right", "outside" (torch's placement with b_hn
    not reset), "reset" (Cho's placement with b_hn reset too)."""
    after = reset_after if placement is None else placement == "after"
    a_x = x_t @ W_ih.T + (b_ih if bias_ih else 0)
    Wh = dict(zip(order, np.split(W_hh, 3)))
    bh = dict(zip(order, np.split(b_hh if bias_hh else 0 * b_hh, 3)))
    ax = dict(zip(order, np.split(a_x, 3, axis=1)))
    hterm = (lambda k: h_prev @ Wh[k].T) if recurrent else (lambda k: 0)
    r = act_gates(ax["r"] + hterm("r") + bh["r"])
    z = act_gates(ax["z"] + hterm("z") + bh["z"])
    if after:
        inner = r * (h_prev @ Wh["n"].T + bh["n"]) if b_hn != "outside" else r * (h_prev @ Wh["n"].T) + bh["n"]
    else:
        inner = (r * h_prev) @ Wh["n"].T + (r * bh["n"] if b_hn == "reset" else bh["n"])
    n = act_n(ax["n"] + inner)
    old = r * h_prev if reset_in_mix else h_prev
    return (z * n + (1 - z) * old if swap_z else (1 - z) * n + z * old), None


def _gru_variants():
    mistake = mistakes_of(_gru)
    return [
        ("the reset gate is applied before the matrix product, (r * h_prev) @ W_hn.T (Cho et al., "
         "reset_after=False), also when reset_after=True: torch applies it after, r * (h_prev @ W_hn.T + b_hn)",
         mistake(placement="before")),
        ("reset_after=False is ignored: then the reset gate multiplies h_prev before the matrix product, "
         "(r * h_prev) @ W_hn.T + b_hn (Cho et al.)", mistake(placement="after")),
        ("the reset gate's placement is the wrong way round: reset_after=True is torch's r * (h_prev @ W_hn.T "
         "+ b_hn), reset_after=False is Cho et al.'s (r * h_prev) @ W_hn.T + b_hn",
         lambda reset_after=True, **case: _gru(**case, reset_after=not reset_after)),
        ("b_hn is outside the reset gate: torch multiplies r with h_prev @ W_hn.T + b_hn, bias included",
         mistake(b_hn="outside")),
        ("with reset_after=False, b_hn is added after the product, not reset: (r * h_prev) @ W_hn.T + b_hn",
         mistake(b_hn="reset")),
        ("z and 1 - z are swapped: h_next = (1 - z) * n + z * h_prev (z keeps the old state)",
         mistake(swap_z=True)),
        ("r and z are swapped: torch stacks the blocks r, z, n (Keras orders them z, r, h)",
         mistake(order="zrn")),
        ("the reset gate is applied to h_prev in the update too: h_next = (1 - z) * n + z * h_prev",
         mistake(reset_in_mix=True)),
        ("n uses the sigmoid: the candidate n is a tanh", mistake(act_n=sigmoid)),
        ("r and z use tanh: they are sigmoids, values in (0, 1)", mistake(act_gates=np.tanh)),
        ("b_hh is missing: both biases are added, b_ih and b_hh", mistake(bias_hh=False)),
        ("b_ih is missing: both biases are added, b_ih and b_hh", mistake(bias_ih=False)),
        ("the h_prev terms of r and z are missing: each gate is sigmoid(x_t W_i^T + b_i + h_prev W_h^T + b_h)",
         mistake(recurrent=False)),
    ]


def _gru_h(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise WrongStructure(f"should return a pair (h_next, cache), but it returned {describe_value(result)}.")
    return result[0]


def test_gru_step_forward(student):
    """Part 4: one GRU step"""
    check_cases(student, ref.gru_step_forward, _gru_cases(), describe=_describe_gru, select=_gru_h,
                variants=_gru_variants(), hints=GRU_HINTS)
