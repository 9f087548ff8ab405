"""Hidden checks for chapter 2, "Backpropagation through time".

Each check runs the student's function on seeded cases chosen so that no mistake can hide: square
and non-square weights (D = H first, so a wrong transpose gives wrong numbers before it gives a
shape error), N > 1 and sometimes N = H (a sum over the wrong axis keeps the right shape), non-zero
biases and initial states, both nonlinearities, T >= 3, dh_n given and not given, float32 inputs.
The caches are built by the reference forward pass (solutions.rnn) and travel to the student's
code as plain data (tuples of arrays and a string); the expected values come from solutions.bptt,
itself checked against torch autograd and centred differences (tests/test_bptt_reference.py).

A known mistake (a variant) is named only when it explains the student's results on every case
where both can be computed (`autograder.checking.check_cases`), so that one lucky match
never names the wrong mistake, and every message says the failing call's inputs in words. The
mistakes these checks must name, and the fair answers they must accept, are listed as student
code in autograder/mutants/ch02_bptt.py (`python -m autograder mutants ch02_bptt`).

Clipping by norm without torch's 1e-6 in `max_norm / (norm + 1e-6)` is a fair answer: it changes
the result by a relative 1e-6 / norm, and every clipping case here has a norm above 0.5, so the
difference stays below a tenth of the tolerance (rtol 1e-5). Modifying the input arrays in place
cannot be seen from here (the student's function receives copies); the visible self-checks test it.
"""
import numpy as np

from autograder.checking import WrongStructure, check_cases, describe_value, has_float32, sizes
from solutions import bptt as ref
from solutions.rnn import rnn_forward, rnn_step_forward


def _weights(rng, D, H, dtype=np.float64):
    return {"W_ih": rng.normal(size=(H, D)).astype(dtype),
            "W_hh": (rng.normal(size=(H, H)) / np.sqrt(H)).astype(dtype),
            "b_ih": rng.normal(size=H).astype(dtype),
            "b_hh": rng.normal(size=H).astype(dtype)}


def _dict_of(keys, name):
    """A ``select`` for functions returning a dict of gradients: a clear message for anything else."""
    def select(result):
        if not isinstance(result, dict):
            raise WrongStructure(f"should return a dict of gradients with the keys {', '.join(keys)}, but it "
                                 f"returned {describe_value(result)}.")
        return result
    select.__name__ = name
    return select


# ----------------------------------------------------------------------------- Part 1
STEP_KEYS = ("dx_t", "dh_prev", "dW_ih", "dW_hh", "db_ih", "db_hh")
STEP_HINTS = [
    ("matmul", "dz = dh_next * act'(z) has shape (N, H); W_ih is (H, D) and W_hh (H, H), so dx_t = dz @ W_ih, "
               "dh_prev = dz @ W_hh, dW_ih = dz.T @ x_t and dW_hh = dz.T @ h_prev"),
    ("could not be broadcast", "dz = dh_next * act'(z) is elementwise, shape (N, H): the derivative comes from "
                               "h_next, of shape (N, H)"),
    ("values to unpack", "the cache is (x_t, h_prev, W_ih, W_hh, h_next, nonlinearity), six items"),
]


def _describe_derivative(case):
    h = case["h"]
    return (f"nonlinearity={case['nonlinearity']!r}, h of shape {tuple(np.shape(h))}"
            + (" with zeros (relu's z <= 0)" if case["nonlinearity"] == "relu" else "")
            + (", float32" if has_float32(h) else ""))


def _derivative_cases():
    rng = np.random.default_rng(200)
    tanh = [rng.uniform(-0.99, 0.99, size=(3, 4)), np.tanh(rng.normal(size=(2, 5))).astype(np.float32)]
    relu = [np.maximum(rng.normal(size=(4, 3)), 0), np.maximum(rng.normal(size=(2, 6)), 0).astype(np.float32)]
    return ([{"h": h, "nonlinearity": "tanh"} for h in tanh]
            + [{"h": h, "nonlinearity": "relu"} for h in relu])


def _derivative_variants():
    def tanh_only(rule):
        return lambda h, nonlinearity: rule(h) if nonlinearity == "tanh" else ref.activation_derivative(h, "relu")

    def relu_only(rule):
        return lambda h, nonlinearity: rule(h) if nonlinearity == "relu" else ref.activation_derivative(h, "tanh")

    return [
        ("you apply tanh to h again: h is already tanh(z), so tanh'(z) = 1 - h**2 (not 1 - tanh(h)**2)",
         tanh_only(lambda h: 1 - np.tanh(h) ** 2)),
        ("the sign of tanh' is flipped: tanh'(z) = 1 - h**2", tanh_only(lambda h: h ** 2 - 1)),
        ("h is not squared: tanh'(z) = 1 - h**2", tanh_only(lambda h: 1 - h)),
        ("relu's derivative is wrong where h = 0 (z <= 0): it is 0 there; test h > 0, not h >= 0",
         relu_only(lambda h: np.ones_like(h))),
        ("relu's derivative is 1 where h > 0 and 0 elsewhere, not h itself", relu_only(lambda h: h)),
        ("nonlinearity='relu' is ignored: you use tanh's 1 - h**2 for relu too",
         lambda h, nonlinearity: 1 - h ** 2),
        ("nonlinearity='tanh' gets relu's derivative: use 1 - h**2 for tanh",
         lambda h, nonlinearity: ref.activation_derivative(h, "relu")),
    ]


def _step_cases():
    """D = H first (a transpose gives wrong values), N = H once (a sum over the wrong axis keeps the
    shape), relu, float32; the caches come from the reference forward with non-zero biases."""
    cases = []
    for seed, (N, D, H, dtype, nonlinearity) in enumerate([
            (3, 4, 4, np.float64, "tanh"), (2, 3, 5, np.float64, "tanh"), (3, 4, 4, np.float64, "relu"),
            (4, 3, 4, np.float64, "tanh"), (4, 2, 3, np.float64, "relu"), (3, 2, 5, np.float32, "tanh")]):
        rng = np.random.default_rng(210 + seed)
        x_t = rng.normal(size=(N, D)).astype(dtype)
        h_prev = rng.uniform(-1, 1, size=(N, H)).astype(dtype)
        _, cache = rnn_step_forward(x_t, h_prev, **_weights(rng, D, H, dtype), nonlinearity=nonlinearity)
        cases.append({"dh_next": rng.normal(size=(N, H)).astype(dtype), "cache": cache})
    return cases


def _describe_step(case):
    x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = case["cache"]
    (N, D), H = x_t.shape, W_hh.shape[0]
    return f"nonlinearity={nonlinearity!r}, " + sizes(has_float32(case), N=N, D=D, H=H)


def _step_from_dz(dz, x_t, h_prev, W_ih, W_hh, **changes):
    grads = {"dx_t": dz @ W_ih, "dh_prev": dz @ W_hh, "dW_ih": dz.T @ x_t, "dW_hh": dz.T @ h_prev,
             "db_ih": dz.sum(axis=0), "db_hh": dz.sum(axis=0)}
    return {**grads, **{k: f(dz) for k, f in changes.items()}}


def _step_variants():
    """Known mistakes of rnn_step_backward, as functions of a case returning the gradients."""
    def with_derivative(derivative):
        def mistake(dh_next, cache):
            x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
            return _step_from_dz(dh_next * derivative(h_next, h_prev, nonlinearity), x_t, h_prev, W_ih, W_hh)
        return mistake

    def changed(**changes):
        """The right dz, and some gradients computed from it the wrong way: key -> f(dz, cache)."""
        def mistake(dh_next, cache):
            x_t, h_prev, W_ih, W_hh, h_next, nonlinearity = cache
            dz = dh_next * ref.activation_derivative(h_next, nonlinearity)
            return _step_from_dz(dz, x_t, h_prev, W_ih, W_hh,
                                 **{k: (lambda d, f=f: f(d, cache)) for k, f in changes.items()})
        return mistake

    both_biases = lambda f: {"db_ih": f, "db_hh": f}  # noqa: E731
    return [
        ("act'(z) is missing: dz = dh_next * act'(z), with act'(z) = 1 - h_next**2 for tanh",
         with_derivative(lambda h, hp, nl: np.ones_like(h))),
        ("you apply tanh to h_next again: h_next is already tanh(z), so tanh'(z) = 1 - h_next**2",
         with_derivative(lambda h, hp, nl: 1 - np.tanh(h) ** 2 if nl == "tanh" else ref.activation_derivative(h, nl))),
        ("the derivative is taken at h_prev: it belongs to this step's output, act'(z) from h_next",
         with_derivative(lambda h, hp, nl: ref.activation_derivative(hp, nl))),
        ("nonlinearity='relu' is ignored: use activation_derivative(h_next, nonlinearity)",
         with_derivative(lambda h, hp, nl: 1 - h ** 2)),
        ("relu's derivative is wrong where h_next = 0 (z <= 0): it is 0 there, so test h_next > 0",
         with_derivative(lambda h, hp, nl: ref.activation_derivative(h, nl) if nl == "tanh" else np.ones_like(h))),
        ("W_ih is transposed in dx_t: dx_t = dz @ W_ih (W_ih has shape (H, D))",
         changed(dx_t=lambda dz, c: dz @ c[2].T)),
        ("W_hh is transposed in dh_prev: dh_prev = dz @ W_hh",
         changed(dh_prev=lambda dz, c: dz @ c[3].T)),
        ("dx_t and dh_prev go back through the wrong matrices: dx_t = dz @ W_ih, dh_prev = dz @ W_hh",
         changed(dx_t=lambda dz, c: dz @ c[3], dh_prev=lambda dz, c: dz @ c[2])),
        ("dW_ih is transposed: dW_ih = dz.T @ x_t, the shape of W_ih, (H, D)",
         changed(dW_ih=lambda dz, c: c[0].T @ dz)),
        ("dW_hh is transposed: dW_hh = dz.T @ h_prev", changed(dW_hh=lambda dz, c: c[1].T @ dz)),
        ("dW_ih and dW_hh are transposed: dW_ih = dz.T @ x_t, dW_hh = dz.T @ h_prev",
         changed(dW_ih=lambda dz, c: c[0].T @ dz, dW_hh=lambda dz, c: c[1].T @ dz)),
        ("dW_hh uses h_next: W_hh multiplies h_prev in the forward pass, so dW_hh = dz.T @ h_prev",
         changed(dW_hh=lambda dz, c: dz.T @ c[4])),
        ("db_ih and db_hh are summed over the wrong axis: sum dz over the batch, axis 0, shape (H,)",
         changed(**both_biases(lambda dz, c: dz.sum(axis=1)))),
        ("db_ih and db_hh are not summed over the batch: sum dz over axis 0, shape (H,)",
         changed(**both_biases(lambda dz, c: dz))),
        ("db_ih and db_hh are means over the batch: the gradient is the sum over the N examples",
         changed(**both_biases(lambda dz, c: dz.mean(axis=0)))),
        ("db_hh is summed over the wrong axis: sum dz over the batch, axis 0, shape (H,)",
         changed(db_hh=lambda dz, c: dz.sum(axis=1))),
        ("db_ih is summed over the wrong axis: sum dz over the batch, axis 0, shape (H,)",
         changed(db_ih=lambda dz, c: dz.sum(axis=1))),
    ]


def test_rnn_step_backward(student):
    """Part 1: one step backwards"""
    check_cases(student, ref.activation_derivative, _derivative_cases(), describe=_describe_derivative,
           variants=_derivative_variants())
    check_cases(student, ref.rnn_step_backward, _step_cases(), describe=_describe_step,
           select=_dict_of(STEP_KEYS, "step"), variants=_step_variants(), hints=STEP_HINTS)


# ----------------------------------------------------------------------------- Part 2
SEQUENCE_KEYS = ("dx", "dh0", "dW_ih", "dW_hh", "db_ih", "db_hh")
SEQUENCE_HINTS = [
    ("values to unpack", "the cache of rnn_forward is a list of T step caches; rnn_step_backward returns a "
                         "dict of gradients, so read step['dx_t'], step['dh_prev'], ..."),
    ("NoneType", "dh_n is None when it is not given: start from zeros then"),
    ("could not be broadcast", "every gradient from rnn_step_backward has the shape of what it differentiates "
                               "(dh_prev (N, H), db_ih (H,)...), and dout[t] and the carried gradient both have "
                               "shape (N, H), the shape of h0"),
]


def _sequence_cases():
    """T >= 3 (T = 1 once), D = H first, N > 1, non-zero h0, both nonlinearities, dh_n given and not,
    float32."""
    cases = []
    for seed, (T, N, D, H, dtype, nonlinearity, with_dh_n) in enumerate([
            (3, 2, 4, 4, np.float64, "tanh", True), (4, 3, 2, 5, np.float64, "tanh", False),
            (3, 2, 4, 4, np.float64, "relu", True), (5, 1, 3, 2, np.float64, "tanh", True),
            (3, 4, 2, 3, np.float32, "tanh", True), (4, 2, 3, 3, np.float64, "relu", False),
            (1, 2, 2, 3, np.float64, "tanh", True)]):
        rng = np.random.default_rng(220 + seed)
        x = rng.normal(size=(T, N, D)).astype(dtype)
        h0 = rng.uniform(-1, 1, size=(N, H)).astype(dtype)
        _, cache = rnn_forward(x, h0, **_weights(rng, D, H, dtype), nonlinearity=nonlinearity)
        case = {"dout": rng.normal(size=(T, N, H)).astype(dtype), "cache": cache}
        if with_dh_n:
            case["dh_n"] = rng.normal(size=(N, H)).astype(dtype)
        cases.append(case)
    return cases


def _describe_sequence(case):
    x_t, h0, W_ih, W_hh, _, nonlinearity = case["cache"][0]
    (N, D), H, T = x_t.shape, W_hh.shape[0], len(case["cache"])
    given = "dh_n given" if case.get("dh_n") is not None else "no dh_n"
    return (f"nonlinearity={nonlinearity!r}, " + sizes(has_float32(case), T=T, N=N, D=D, H=H)
            + f", a non-zero h0, {given}")


def _loop(dout, cache, dh_n=None, *, steps=None, at=None, carry=True):
    """rnn_backward as a student writes it, with a hook for each loop mistake: the time steps
    visited in order (default T-1 down to 0), at(dout, t) the loss's gradient given to step t
    (default dout[t]), and whether dh_prev is carried to the next step visited. Returns the
    gradients, each step's own gradients (by t), and the dh_next given to the last step visited."""
    T = len(cache)
    steps = list(reversed(range(T))) if steps is None else list(steps)
    at = at or (lambda d, t: d[t])
    dh = np.zeros(cache[0][1].shape) if dh_n is None else np.asarray(dh_n, dtype=np.float64)
    dx = np.zeros((T,) + cache[0][0].shape)
    per_step, last_dh_prev, last_in = {}, dh, dh
    for t in steps:
        last_in = dh + at(dout, t)
        step = per_step[t] = ref.rnn_step_backward(last_in, cache[t])
        dx[t] = step["dx_t"]
        last_dh_prev = step["dh_prev"]
        dh = step["dh_prev"] if carry else 0 * step["dh_prev"]
    H, shapes = len(cache[0][3]), {"dW_ih": cache[0][2].shape, "dW_hh": cache[0][3].shape}
    weights = {k: sum((step[k] for step in per_step.values()), np.zeros(shapes.get(k, (H,))))
               for k in ("dW_ih", "dW_hh", "db_ih", "db_hh")}
    return {"dx": dx, "dh0": last_dh_prev, **weights}, per_step, last_in


def _sequence_variants():
    def grads(**options):
        return lambda dout, cache, dh_n=None: _loop(dout, cache, dh_n, **options)[0]

    def no_dh_n(**options):
        return lambda dout, cache, dh_n=None: _loop(dout, cache, None, **options)[0]

    def weights_of(which):
        def mistake(dout, cache, dh_n=None):
            result, per_step, _ = _loop(dout, cache, dh_n)
            step = per_step[0 if which == "first" else len(cache) - 1]
            return {**result, **{k: step[k] for k in ("dW_ih", "dW_hh", "db_ih", "db_hh")}}
        return mistake

    def dx_reversed(dout, cache, dh_n=None):
        result = ref.rnn_backward(dout, cache, dh_n)
        return {**result, "dx": result["dx"][::-1]}

    def dh0_of_h1(dout, cache, dh_n=None):
        result, _, last_in = _loop(dout, cache, dh_n)
        return {**result, "dh0": last_in}

    def dh_n_everywhere(dout, cache, dh_n=None):
        if dh_n is None:
            return ref.rnn_backward(dout, cache)
        return _loop(dout, cache, None, at=lambda d, t: d[t] + dh_n)[0]

    T_of = len
    not_accumulated = ("the hidden-state gradient is not accumulated: each step must get dout[t] PLUS the dh_prev "
                       "carried back from step t + 1 (dh = dh_prev, then dh + dout[t] at the step before)")
    return [
        (not_accumulated, no_dh_n(carry=False)),
        (not_accumulated, grads(carry=False)),
        ("dout[t] is dropped: each step gets the dh_prev carried from step t + 1 PLUS dout[t], the loss's own "
         "gradient at that state", grads(at=lambda d, t: 0 * d[t])),
        ("dh_n is ignored: when it is given, it adds to dout[-1] (the gradient reaching the last state)",
         no_dh_n()),
        ("off by one in the time loop: step t gets dout[t], not dout[t - 1]", grads(at=lambda d, t: d[t - 1])),
        ("the steps are walked forwards in time: start from the last step, t = T - 1, down to t = 0",
         lambda dout, cache, dh_n=None: _loop(dout, cache, dh_n, steps=range(T_of(cache)))[0]),
        ("off by one in the time loop: the last step, t = T - 1, is skipped (loop over all T steps, from "
         "T - 1 down to 0)",
         lambda dout, cache, dh_n=None: _loop(dout, cache, dh_n, steps=reversed(range(T_of(cache) - 1)))[0]),
        ("off by one in the time loop: the first step, t = 0, is skipped (loop down to t = 0 included; range(T) "
         "reversed, not range(1, T))",
         lambda dout, cache, dh_n=None: _loop(dout, cache, dh_n, steps=reversed(range(1, T_of(cache))))[0]),
        ("dW and db are not summed over the steps: only the first step's (t = 0) are kept; the weights are "
         "shared, so add every step's gradients (+=)", weights_of("first")),
        ("dW and db are not summed over the steps: only the last step's (t = T - 1) are kept; the weights are "
         "shared, so add every step's gradients (+=)", weights_of("last")),
        ("dx is in reverse time order: dx[t] belongs to x[t] (a list built backwards must be reversed)",
         dx_reversed),
        ("dh0 is the gradient w.r.t. h_1, what step 0 receives, not w.r.t. h_0: return step 0's dh_prev",
         dh0_of_h1),
        ("dh_n is added at every step (dout + dh_n): it is the gradient of the last state only, so it adds to "
         "dout[-1] alone", dh_n_everywhere),
    ]


def test_rnn_backward(student):
    """Part 2: backpropagation through time"""
    check_cases(student, ref.rnn_backward, _sequence_cases(), describe=_describe_sequence,
           select=_dict_of(SEQUENCE_KEYS, "sequence"), variants=_sequence_variants(), hints=SEQUENCE_HINTS)


# ----------------------------------------------------------------------------- Part 3
def _clip_cases():
    """Norms well above 0.5 wherever clipping happens (so torch's 1e-6 is within tolerance); one
    array much larger than the others (per-array clipping differs); no clipping; float32."""
    rng = np.random.default_rng(230)

    def grads(scale, dtype=np.float64, **shapes):
        return {k: (scale * rng.normal(size=s)).astype(dtype) for k, s in shapes.items()}

    rnn_shapes = {"dW_ih": (4, 3), "dW_hh": (4, 4), "db_ih": (4,), "db_hh": (4,)}
    return [{"grads": grads(2.0, **rnn_shapes), "max_norm": 5.0},
            {"grads": grads(1.0, dV=(2, 3), dc=(2,)) | {"dV": 10 * rng.normal(size=(2, 3))}, "max_norm": 3.0},
            {"grads": grads(0.5, **rnn_shapes), "max_norm": 100.0},
            {"grads": grads(1.5, np.float32, **rnn_shapes), "max_norm": 1.0},
            {"grads": grads(1.0, dW=(3, 3)), "max_norm": 0.5}]


def _value_cases():
    rng = np.random.default_rng(240)
    return [{"grads": {"dW_ih": 3 * rng.normal(size=(4, 3)), "db_ih": 3 * rng.normal(size=4)}, "clip": 2.0},
            {"grads": {"dW_hh": rng.normal(size=(3, 3)).astype(np.float32)}, "clip": 0.5},
            {"grads": {"dV": 2 * rng.normal(size=(2, 5)), "dc": np.array([-4.0, 0.1])}, "clip": 1.0}]


def _describe_clip(case):
    shapes = ", ".join(f"{k} {tuple(np.shape(v))}" for k, v in case["grads"].items())
    limit = f"max_norm={case['max_norm']:g}" if "max_norm" in case else f"clip={case['clip']:g}"
    extra = ""
    if "max_norm" in case:
        norm = ref.global_norm(case["grads"])
        extra = f" (global norm {norm:.3g}: {'clipped' if norm > case['max_norm'] else 'not clipped'})"
    return f"grads with {shapes}, {limit}{extra}" + (", float32" if has_float32(case) else "")


def _clipped_pair(result):
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise WrongStructure(f"should return a pair (clipped, norm), but it returned {describe_value(result)}.")
    if not isinstance(result[0], dict):
        raise WrongStructure(f"should return the clipped gradients first, as a dict, then the norm; its first item "
                             f"is {describe_value(result[0])}.")
    return tuple(result)


def _clip_variants():
    def own_norms(grads):
        return [float(np.sqrt(np.sum(np.square(g)))) for g in grads.values()]

    def scaled(grads, scale):
        return {k: g * scale for k, g in grads.items()}

    def with_norm(norm_of, *, returned=None, rule=lambda m, n: min(m / n, 1.0)):
        def mistake(grads, max_norm):
            norm = norm_of(grads)
            clipped = scaled(grads, rule(max_norm, norm))
            return clipped, (norm if returned is None else returned(clipped, norm, max_norm))
        return mistake

    def each_separately(grads, max_norm):
        return ({k: g * min(max_norm / n, 1.0) for (k, g), n in zip(grads.items(), own_norms(grads))},
                ref.global_norm(grads))

    return [
        ("each array is clipped on its own: scale ALL the gradients by the same factor, max_norm / norm, where "
         "norm is their global norm (global_norm(grads))", each_separately),
        ("the gradients are scaled up when their norm is below max_norm: scale only when the norm is above "
         "max_norm (the scale is at most 1)", with_norm(ref.global_norm, rule=lambda m, n: m / n)),
        ("the returned norm is the norm after clipping: return the global norm before clipping, as torch does",
         with_norm(ref.global_norm, returned=lambda clipped, n, m: ref.global_norm(clipped))),
        ("the returned norm is max_norm when clipping: return the global norm before clipping, as torch does",
         with_norm(ref.global_norm, returned=lambda clipped, n, m: min(n, m))),
        ("the scale is upside down: multiply by max_norm / norm (below 1), not norm / max_norm",
         with_norm(ref.global_norm, rule=lambda m, n: n / m if n > m else 1.0)),
        ("the global norm is not the sum of the arrays' own norms: it is the square root of the sum of ALL the "
         "squares (global_norm(grads))", with_norm(lambda g: sum(own_norms(g)))),
        ("the norm is squared: the global norm is the square root of the sum of all the squares",
         with_norm(lambda g: ref.global_norm(g) ** 2)),
    ]


def _value_variants():
    def each(fn):
        return lambda grads, clip: {k: fn(g, clip) for k, g in grads.items()}

    return [
        ("only the top is clipped: entries below -clip must become -clip too (np.clip(g, -clip, clip))",
         each(lambda g, c: np.minimum(g, c))),
        ("only the bottom is clipped: entries above clip must become clip too (np.clip(g, -clip, clip))",
         each(lambda g, c: np.maximum(g, -c))),
        ("the sign is lost: clip the entries themselves into [-clip, clip], not their absolute values",
         each(lambda g, c: np.clip(np.abs(g), -c, c))),
        ("the entries are clipped into [0, clip]: the range is [-clip, clip]", each(lambda g, c: np.clip(g, 0, c))),
        ("this rescales by the global norm: clip_grad_value clips each entry on its own, into [-clip, clip]",
         lambda grads, clip: ref.clip_grad_norm(grads, clip)[0]),
    ]


def _new_dict(result):
    if not isinstance(result, dict):
        raise WrongStructure(f"should return the clipped gradients as a dict, but it returned "
                             f"{describe_value(result)}.")
    return result


def test_clipping(student):
    """Part 3: gradient clipping"""
    check_cases(student, ref.clip_grad_norm, _clip_cases(), describe=_describe_clip, select=_clipped_pair,
           variants=_clip_variants())
    check_cases(student, ref.clip_grad_value, _value_cases(), describe=_describe_clip, select=_new_dict,
           variants=_value_variants())


# ----------------------------------------------------------------------------- Part 4
JACOBIAN_HINTS = [
    ("could not be broadcast", "J[n] = diag(act'(z_t)[n]) W_hh: give act' of shape (N, H) a last axis, "
                               "act'[:, :, None] * W_hh, so that it scales the rows of W_hh"),
    ("matmul", "the Jacobians are stacks of matrices, (N, H, H): A @ B multiplies the last two axes"),
]


def _step_jacobian_cases():
    cases = []
    for seed, (N, D, H, dtype, nonlinearity) in enumerate([
            (3, 2, 4, np.float64, "tanh"), (2, 3, 3, np.float64, "relu"), (1, 2, 5, np.float64, "tanh"),
            (3, 2, 4, np.float32, "tanh"), (4, 3, 3, np.float64, "relu")]):
        rng = np.random.default_rng(250 + seed)
        _, cache = rnn_step_forward(rng.normal(size=(N, D)).astype(dtype),
                                    rng.uniform(-1, 1, size=(N, H)).astype(dtype), **_weights(rng, D, H, dtype),
                                    nonlinearity=nonlinearity)
        cases.append({"cache_t": cache})
    return cases


def _describe_step_jacobian(case):
    x_t, _, _, W_hh, _, nonlinearity = case["cache_t"]
    return f"a step cache with nonlinearity={nonlinearity!r}, " + sizes(
        has_float32(case), N=x_t.shape[0], D=x_t.shape[1], H=W_hh.shape[0])


def _step_jacobian_variants():
    def from_derivative(arrange, derivative=lambda h, hp, nl: ref.activation_derivative(h, nl)):
        def mistake(cache_t):
            _, h_prev, _, W_hh, h_next, nonlinearity = cache_t
            return arrange(derivative(h_next, h_prev, nonlinearity), W_hh)
        return mistake

    rows = lambda d, W: d[:, :, None] * W  # noqa: E731  (the right arrangement)
    return [
        ("W_hh is transposed: J[n, i, j] = act'(z)[n, i] * W_hh[i, j], that is diag(act') @ W_hh",
         from_derivative(lambda d, W: d[:, :, None] * W.T)),
        ("act' scales the columns of W_hh: diag(act') @ W_hh scales row i by act'(z)_i, "
         "act'[:, :, None] * W_hh", from_derivative(lambda d, W: d[:, None, :] * W)),
        ("J is transposed: J[n, i, j] = d h_t[n, i] / d h_{t-1}[n, j] = act'(z)[n, i] * W_hh[i, j]",
         from_derivative(lambda d, W: d[:, None, :] * W.T)),
        ("act'(z) is missing: J = diag(act'(z)) W_hh, one matrix per sequence",
         from_derivative(lambda d, W: np.broadcast_to(W, (len(d),) + W.shape))),
        ("act'(z) is missing, and J needs one matrix per sequence: J = diag(act'(z)) W_hh, shape (N, H, H)",
         from_derivative(lambda d, W: W)),
        ("the derivative is taken at h_prev: step t's Jacobian uses act'(z_t), computed from h_next",
         from_derivative(rows, lambda h, hp, nl: ref.activation_derivative(hp, nl))),
        ("you apply tanh to h_next again: h_next is already tanh(z), so tanh'(z) = 1 - h_next**2",
         from_derivative(rows, lambda h, hp, nl: 1 - np.tanh(h) ** 2 if nl == "tanh"
                         else ref.activation_derivative(h, nl))),
        ("nonlinearity='relu' is ignored: use activation_derivative(h_next, nonlinearity)",
         from_derivative(rows, lambda h, hp, nl: 1 - h ** 2)),
    ]


def _sequence_jacobian_cases():
    cases = []
    for seed, (T, N, D, H, nonlinearity) in enumerate([
            (4, 2, 3, 3, "tanh"), (3, 3, 2, 4, "relu"), (5, 1, 2, 3, "tanh"), (3, 2, 2, 2, "tanh")]):
        rng = np.random.default_rng(260 + seed)
        _, cache = rnn_forward(rng.normal(size=(T, N, D)), rng.uniform(-1, 1, size=(N, H)),
                               **_weights(rng, D, H), nonlinearity=nonlinearity)
        cases.append({"cache": cache})
    return cases


def _describe_sequence_jacobian(case):
    x_t, _, _, W_hh, _, nonlinearity = case["cache"][0]
    return f"the cache of rnn_forward with nonlinearity={nonlinearity!r}, " + sizes(
        T=len(case["cache"]), N=x_t.shape[0], D=x_t.shape[1], H=W_hh.shape[0])


def _describe_norms(case):
    return _describe_sequence_jacobian(case) + (f", ord={case['ord']!r}" if "ord" in case else ", ord not given")


def _chain(cache, order="right"):
    """[d h_T / d h_T, d h_T / d h_{T-1}, ..., d h_T / d h_0] with the products in either order."""
    N, H = cache[-1][4].shape
    chain = [np.broadcast_to(np.eye(H), (N, H, H)).copy()]
    for step in reversed(cache):
        J = ref.step_jacobian(step)
        chain.append(chain[-1] @ J if order == "right" else J @ chain[-1])
    return chain


def _hidden_jacobian_variants():
    def alone(cache):
        N, H = cache[-1][4].shape
        return np.stack([ref.step_jacobian(step) for step in cache] + [np.broadcast_to(np.eye(H), (N, H, H))])

    return [
        ("the product is in the wrong order: d h_T / d h_t = J_T J_{T-1} ... J_{t+1}, the latest step on the "
         "left (chain @ J, going backwards from the identity)", lambda cache: np.stack(_chain(cache, "left")[::-1])),
        ("the Jacobians are in reverse time order: J[t] = d h_T / d h_t, so J[0] is the product of all T steps "
         "and J[T] the identity", lambda cache: np.stack(_chain(cache))),
        ("J[T] = d h_T / d h_T, the identity, is missing: there are T + 1 matrices, for t = 0..T",
         lambda cache: np.stack(_chain(cache)[::-1])[:-1]),
        ("J[0] = d h_T / d h_0, the product of all T steps, is missing: there are T + 1 matrices, for t = 0..T",
         lambda cache: np.stack(_chain(cache)[:-1][::-1])),
        ("each J[t] is one step's Jacobian: multiply the steps together, J[t] = J_T J_{T-1} ... J_{t+1}", alone),
    ]


def _norm_cases():
    base = _sequence_jacobian_cases()
    return [{**base[0], "ord": 2}, {**base[1], "ord": "fro"}, {**base[2]}, {**base[3], "ord": "fro"},
            {**base[1], "ord": 2}]


def _hidden_jacobian_norm_variants():
    def of(J, ord=2):
        return np.linalg.norm(J, ord=ord, axis=(-2, -1))

    def jac(cache):
        return ref.hidden_jacobians(cache)

    return [
        ("these are Frobenius norms whatever ord says: pass ord on to np.linalg.norm (ord=2 is the largest "
         "singular value)", lambda cache, ord=2: of(jac(cache), "fro")),
        ("ord is ignored: pass it on to np.linalg.norm (ord='fro' is the Frobenius norm)",
         lambda cache, ord=2: of(jac(cache))),
        ("the norms are in reverse time order: norms[t] = ||d h_T / d h_t||, so norms[T] = ||I|| and norms[0] the "
         "longest lag", lambda cache, ord=2: of(jac(cache), ord)[::-1]),
        ("the norms are transposed: one row per time step, shape (T + 1, N)",
         lambda cache, ord=2: of(jac(cache), ord).T),
        ("norms[T] = ||d h_T / d h_T|| = ||I|| is missing: there are T + 1 norms, for t = 0..T",
         lambda cache, ord=2: of(jac(cache), ord)[:-1]),
        ("this is the largest |eigenvalue| (the spectral radius), not the 2-norm: ord=2 is the largest singular "
         "value, np.linalg.norm(..., ord=2, axis=(-2, -1))",
         lambda cache, ord=2: np.abs(np.linalg.eigvals(jac(cache))).max(axis=-1) if ord == 2 else of(jac(cache), ord)),
        ("one norm per time step for the whole batch: compute one norm per matrix, axis=(-2, -1), shape (T + 1, N)",
         lambda cache, ord=2: np.linalg.norm(jac(cache).reshape(len(cache) + 1, -1), axis=1)),
    ]


def test_gradient_norms(student):
    """Part 4: Jacobians through time"""
    check_cases(student, ref.step_jacobian, _step_jacobian_cases(), describe=_describe_step_jacobian,
           variants=_step_jacobian_variants(), hints=JACOBIAN_HINTS)
    check_cases(student, ref.hidden_jacobians, _sequence_jacobian_cases(), describe=_describe_sequence_jacobian,
           variants=_hidden_jacobian_variants(), hints=JACOBIAN_HINTS)
    check_cases(student, ref.hidden_jacobian_norms, _norm_cases(), describe=_describe_norms,
           variants=_hidden_jacobian_norm_variants(), hints=JACOBIAN_HINTS)
