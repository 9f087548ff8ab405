"""Helpers for hidden checks: compare a student's function with the reference, explain mismatches.

A chapter's checks live in ``autograder/checks/<assignment>.py``: one function per graded test
cell, named after the cell's ``grade_id``, taking a ``student`` object whose attributes are the
student's functions. The grader runs these checks in its own process; ``student.f(...)`` runs the
student's ``f`` in the sandbox and returns plain data, so nothing the student's code did to numpy,
to the testing helpers or to IPython can change a verdict.

A failed check raises ``CheckFailed`` with a message in words. The kinds of check:
- ``check_function``: compare with the reference on seeded cases and recognise patterns
  (``variants``): if the student's output equals the reference run with, say, the bias zeroed,
  the message says "the bias is missing" instead of quoting numbers;
- ``check_gradient``: compare gradients (a dict of arrays) with centred finite differences;
- ``check_metric``: a trained model's metric on held-out data the student never saw, against a
  threshold; the target never leaves this process;
- ``check_causal``: outputs before time t must not change when inputs at t and later do.
Each names the student's function once: ``check_function(student, ref.rnn_forward, cases)``
looks up the student's ``rnn_forward``.
"""
import copy
import sys

import numpy as np

# Loose enough for a correct answer computed another way (einsum, loops, float32 inside),
# tight enough that every real mistake (a missing term, a wrong activation) is far outside.
FLOAT64_TOL = dict(rtol=1e-5, atol=1e-7)
FLOAT32_TOL = dict(rtol=1e-4, atol=1e-5)
TRACEBACK_HEADING = "\n\nTraceback of your code:"  # what explain_error puts before the student's traceback


class CheckFailed(AssertionError):
    """A hidden check failed; the message is shown to the student."""


class StudentCodeError(Exception):
    """The student's function raised (or is missing): carries what the sandbox reported."""

    def __init__(self, name, ename, evalue, traceback="", missing=False, memory=False):
        super().__init__(f"{ename}: {evalue}")
        self.name, self.ename, self.evalue = name, ename, evalue
        self.traceback, self.missing, self.memory = traceback, missing, memory


class StudentTimeout(Exception):
    """The student's function did not return in time."""


class StudentDied(Exception):
    """The student's process died (crash, os._exit, killed for memory)."""


class WrongStructure(Exception):
    """Raised by a ``select``: the result has the wrong structure; the message follows the name."""


def _is_tensor(value):
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(value, torch.Tensor)


def as_numpy(value):
    """Tensors (as they arrive from the student's code, plain) become arrays; the rest is unchanged."""
    if _is_tensor(value):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: as_numpy(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)) and any(_is_tensor(v) or isinstance(v, (dict, tuple, list)) for v in value):
        return type(value)(as_numpy(v) for v in value)
    return value


def _fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def describe_value(value):
    if _is_tensor(value):
        return f"a tensor of shape {_fmt_shape(tuple(value.shape))}"
    if isinstance(value, np.ndarray):
        return f"an array of shape {_fmt_shape(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None"
    if hasattr(value, "type_name"):  # a Remote or Opaque: an object that is not plain data
        return f"an object of type {value.type_name}"
    return f"a {type(value).__name__}"


def _as_numeric_array(got):
    """Array-likes of numbers become arrays; anything else returns None."""
    if isinstance(got, np.ndarray):
        return got
    if isinstance(got, (bool, int, float, np.number)):
        return np.asarray(got)
    if isinstance(got, (list, tuple)):
        try:
            arr = np.asarray(got, dtype=float)
        except (TypeError, ValueError):
            return None
        return arr
    return None


def compare(got, expected, *, rtol=FLOAT64_TOL["rtol"], atol=FLOAT64_TOL["atol"], what="the result"):
    """Return None if ``got`` matches ``expected``, else a sentence saying what is wrong.

    ``expected`` may be an array, a tensor, a number, None (matched by None alone), or a
    tuple/list/dict of those (compared item by item). A tensor is compared by its values, like an
    array.
    """
    got, expected = as_numpy(got) if _is_tensor(got) else got, as_numpy(expected)
    if expected is None:
        return None if got is None else f"{what} should be None, but it is {describe_value(got)}"
    if isinstance(expected, dict):
        if not isinstance(got, dict):
            return f"{what} should be a dict, but it is {describe_value(got)}"
        missing, extra = set(expected) - set(got), set(got) - set(expected)
        if missing:
            return f"{what} is missing the key(s) {', '.join(sorted(map(repr, missing)))}"
        if extra:
            return f"{what} has unexpected key(s) {', '.join(sorted(map(repr, extra)))}"
        for key in expected:
            problem = compare(got[key], expected[key], rtol=rtol, atol=atol, what=f"{what}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)):
            return f"{what} should be a tuple of {len(expected)} items, but it is {describe_value(got)}"
        if len(got) != len(expected):
            return f"{what} should have {len(expected)} items, but it has {len(got)}"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, rtol=rtol, atol=atol, what=f"{what}[{i}]")
            if problem:
                return problem
        return None

    exp = np.asarray(expected)
    arr = _as_numeric_array(got)
    if arr is None:
        kind = "a number" if exp.ndim == 0 else f"an array of shape {_fmt_shape(exp.shape)}"
        return f"{what} should be {kind}, but it is {describe_value(got)}"
    if arr.dtype.kind == "c" and exp.dtype.kind != "c":
        return f"{what} has complex values; expected real numbers"
    if arr.size == 1 and exp.size == 1 and exp.ndim == 0:
        arr = arr.reshape(())
    if arr.shape != exp.shape:
        if arr.ndim == 2 and arr.shape == exp.shape[::-1]:
            return (f"{what} has shape {_fmt_shape(arr.shape)} but should have shape "
                    f"{_fmt_shape(exp.shape)}: it looks transposed (check the order of a matrix product)")
        if arr.size == exp.size:
            return (f"{what} has shape {_fmt_shape(arr.shape)} but should have shape {_fmt_shape(exp.shape)} "
                    "(the same number of values, arranged differently: check transposes and reshapes)")
        return f"{what} has shape {_fmt_shape(arr.shape)} but should have shape {_fmt_shape(exp.shape)}"
    arr = arr.astype(np.float64) if arr.dtype.kind in "biu" else arr
    bad_nonfinite = ~np.isfinite(arr) & np.isfinite(exp)
    if bad_nonfinite.any():
        idx = tuple(int(i) for i in np.argwhere(bad_nonfinite)[0])
        return f"{what} contains NaN or infinite values (first at index {idx})"
    close = np.isclose(arr, exp, rtol=rtol, atol=atol)
    if not close.all():
        err = np.abs(arr - exp)
        err = np.where(np.isnan(err), np.inf, err)
        idx = np.unravel_index(int(np.argmax(err)), err.shape) if err.ndim else ()
        where = f" at index {tuple(int(i) for i in idx)}" if idx else ""
        return (f"{what} has wrong values: {int((~close).sum())} of {close.size} differ; the largest "
                f"difference is{where}: got {float(arr[idx]):.6g}, expected {float(exp[idx]):.6g}")
    return None


def describe_case(case):
    """Describe a case's inputs briefly: shapes of arrays, values of scalars."""
    parts = []
    for key, value in case.items():
        if isinstance(value, np.ndarray) and value.ndim:
            parts.append(f"{key} of shape {_fmt_shape(value.shape)}")
        elif isinstance(value, (np.ndarray, float, int, np.number)):
            parts.append(f"{key}={float(value):.4g}")
        else:
            parts.append(f"{key}={value!r}")
    return ", ".join(parts)


def has_float32(value):
    """Whether a float32 array or number is in value, or in a dict, tuple or list inside it (a
    cache, a dict of gradients)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return value.dtype == np.float32
    if isinstance(value, dict):
        return any(has_float32(v) for v in value.values())
    if isinstance(value, (tuple, list)):
        return any(has_float32(v) for v in value)
    return False


def _tolerance(case, got):
    return FLOAT32_TOL if has_float32(case) or has_float32(got) else FLOAT64_TOL


def explain_error(name, error, hints=(), inputs=""):
    """Turn a StudentCodeError into a sentence; ``hints`` are (substring, advice) pairs;
    ``inputs`` says in words what the failing call was given."""
    if error.missing:
        return (f"`{name}` is not defined. Run the cell that defines it; if that cell shows an "
                f"error, fix it first ({error.ename}: {error.evalue}).")
    if error.ename == "NotImplementedError":
        return f"`{name}` is not implemented yet: replace `raise NotImplementedError()` with your code."
    if error.memory:
        return f"`{name}` ran out of memory (the grader's memory limit)."
    advice = next((a for s, a in hints if s in f"{error.ename}: {error.evalue}"), "")
    text = f"`{name}` raised {error.ename}: {error.evalue}"
    if inputs:
        text += f" (inputs: {inputs})"
    if advice:
        text += f". Hint: {advice}"
    if error.traceback:
        text += f"{TRACEBACK_HEADING}\n{error.traceback}"
    return text


def _student_function(student, reference_fn, name):
    """The student's function named like the reference (written once), or a callable as given."""
    if callable(student) and not hasattr(student, "_request"):
        return student, name or getattr(student, "__name__", "your function")
    name = name or reference_fn.__name__
    return getattr(student, name), name


def _call(fn, name, hints, *args, inputs="", **kwargs):
    try:
        return fn(*args, **kwargs)
    except StudentCodeError as error:
        raise CheckFailed(explain_error(error.name or name, error, hints, inputs)) from None


def _select(select, result, name):
    try:
        return select(result)
    except WrongStructure as exc:
        raise CheckFailed(f"`{name}` {exc}") from None


def check_function(student, reference_fn, cases, *, name=None, select=None, variants=(), hints=(),
                   describe=describe_case):
    """Compare the student's function with ``reference_fn`` on every case (a dict of keyword arguments).

    - student: the ``student`` object (its function named like ``reference_fn`` is checked) or a
      callable; ``name`` overrides the name used in messages.
    - select(result) -> the part of the result to compare (e.g. ``out`` of ``(out, cache)``);
      it may raise WrongStructure to say the result has the wrong structure.
    - variants: (message, fn) pairs. fn(**case) gives the result of a known mistake; when the
      student's output matches it, the message is what the student reads.
    - hints: (substring, advice) pairs for exceptions the student's code raises.
    - describe(case) -> the call's inputs in words for messages (default: shapes and scalars);
      e.g. "batch_first=True, N=4, T=5".
    Tolerances: rtol=1e-5 in float64, 1e-4 when a float32 value is involved.
    """
    student_fn, name = _student_function(student, reference_fn, name)
    select = select or (lambda result: result)
    for case in cases:
        got = _select(select, _call(student_fn, name, hints, inputs=describe(case), **copy.deepcopy(case)), name)
        expected = select(reference_fn(**copy.deepcopy(case)))
        tol = _tolerance(case, got)
        problem = compare(got, expected, what=f"the output of `{name}`", **tol)
        if problem is None:
            continue
        for message, mistake in variants:
            try:
                wrong = select(mistake(**copy.deepcopy(case)))
            except (ValueError, CheckFailed, WrongStructure):
                continue
            if compare(got, wrong, **tol) is None:
                raise CheckFailed(f"`{name}`: {message} (inputs: {describe(case)}).")
        raise CheckFailed(f"{problem} (inputs: {describe(case)}).")


_RAISED = object()  # the student's function raised on a case: that case neither confirms nor refutes


def _with_inputs(message, inputs):
    """A message of check_function that does not say the call's inputs yet (a result of the wrong
    structure), with them."""
    head, sep, trace = message.partition(TRACEBACK_HEADING)
    if "(inputs: " in head or " is not defined. " in head or "is not implemented yet" in head:
        return message
    return f"{head.rstrip('.')} (inputs: {inputs}).{sep}{trace}"


def check_cases(student, reference, cases, *, name=None, describe=describe_case, select=None, variants=(),
                hints=()):
    """`check_function`, one case at a time, with variants that must explain every case: a known
    mistake is named only when it matches the student's result on every case where both run (one
    lucky match never names the wrong mistake), and a failure says the call's arguments in words.
    The student's function is the one named ``name``, by default named like ``reference``."""
    keep = select or (lambda result: result)
    name = name or reference.__name__
    fn = getattr(student, name)
    results = {}

    def student_result(i):
        if i not in results:
            try:
                results[i] = keep(fn(**copy.deepcopy(cases[i])))
            except (StudentCodeError, WrongStructure):
                results[i] = _RAISED
        return results[i]

    def everywhere(mistake):
        def variant(**case):
            wrong = mistake(**case)
            for i, other in enumerate(cases):
                mine = student_result(i)
                if mine is _RAISED:
                    continue
                try:
                    theirs = keep(mistake(**copy.deepcopy(other)))
                except (ValueError, WrongStructure):  # the mistake cannot run on this case (shapes)
                    continue
                if compare(mine, theirs, **_tolerance(other, mine)) is not None:
                    raise ValueError("this mistake does not explain every case")
            return wrong
        return variant

    confirmed = [(message, everywhere(mistake)) for message, mistake in variants]
    for case in cases:
        try:
            check_function(student, reference, [case], name=name, select=select, variants=confirmed,
                           hints=hints, describe=describe)
        except CheckFailed as failure:
            raise CheckFailed(_with_inputs(str(failure), describe(case))) from None


def mistakes_of(model, **fixed):
    """Variants from one model of the mistakes: ``mistake = mistakes_of(_deep, steps=steps)``, then
    ``mistake(feed="x")`` is the variant ``lambda **case: _deep(**case, steps=steps, feed="x")``
    (a case's keys and the options never overlap: a clash raises TypeError, as a call would)."""
    def mistake(**options):
        def variant(**case):
            return model(**case, **fixed, **options)
        return variant
    return mistake


def pair_first(result):
    """A ``select`` for functions returning ``(out, cache)``: check the pair, keep ``out``."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        raise WrongStructure(f"should return a pair `(out, cache)`, but it returned {describe_value(result)}.")
    return result[0]


def tuple_of(n, items):
    """A ``select`` checking that the result is a tuple (or list) of n items, ``items`` naming them
    ("h_next, c_next, cache"); keeps it, as a tuple."""
    def select(result):
        if not isinstance(result, (tuple, list)) or len(result) != n:
            raise WrongStructure(f"should return a tuple of {n} items, ({items}), but it returned "
                                 f"{describe_value(result)}.")
        return tuple(result)
    return select


def sizes(float32=False, **letters):
    """A case's sizes in words for ``describe``: sizes(True, N=2, H=3) -> "N=2, H=3, float32 inputs"."""
    return ", ".join(f"{k}={v}" for k, v in letters.items()) + (", float32 inputs" if float32 else "")


# ----------------------------------------------------------------------------- gradients
GRAD_EPS = 1e-6  # step of the centred differences, on float64 copies
GRAD_TOL = 1e-6  # largest relative error |a - n| / max(|a| + |n|, 1e-8) accepted, elementwise


def numerical_gradient(f, inputs, name, eps=GRAD_EPS):
    """d f(**inputs) / d inputs[name] by centred differences; every evaluation gets fresh copies."""
    base = {k: np.array(v, dtype=np.float64) if isinstance(v, (np.ndarray, float)) else v for k, v in inputs.items()}
    grad = np.zeros_like(base[name], dtype=np.float64)
    for idx in np.ndindex(grad.shape):
        values = []
        for step in (eps, -eps):
            moved = copy.deepcopy(base)
            moved[name][idx] += step
            values.append(float(f(**moved)))
        grad[idx] = (values[0] - values[1]) / (2 * eps)
    return grad


def relative_error(got, expected):
    got, expected = np.asarray(got, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return np.abs(got - expected) / np.maximum(np.abs(got) + np.abs(expected), 1e-8)


def check_gradient(got, f, inputs, *, name, wrt, variants=(), tol=GRAD_TOL, eps=GRAD_EPS):
    """Compare the student's gradients with centred finite differences of ``f``.

    - got: dict of the student's gradients (``{"dx": ..., "dW_hh": ...}``), as their function
      returned it; checked for its keys and shapes first.
    - f(**inputs) -> a scalar; usually ``np.sum(reference_forward(...) * dout)``, so that the
      gradient of f is what a backward pass given ``dout`` returns.
    - wrt: gradient key -> the input it differentiates (``{"dx": "x", "dW_hh": "W_hh"}``).
    - variants: (message, fn) pairs; fn() returns the gradients of a known mistake (a dict).
    The inputs are copied for every evaluation: the student's arrays are never perturbed in place.
    """
    if not isinstance(got, dict):
        raise CheckFailed(f"`{name}` should return a dict of gradients, but it returned {describe_value(got)}.")
    missing, extra = set(wrt) - set(got), set(got) - set(wrt)
    if missing or extra:
        raise CheckFailed(f"the gradients from `{name}` should have the keys {', '.join(sorted(wrt))}"
                          f"{'; missing: ' + ', '.join(sorted(missing)) if missing else ''}"
                          f"{'; unexpected: ' + ', '.join(sorted(extra)) if extra else ''}.")
    for key, input_name in wrt.items():
        shape = np.shape(inputs[input_name])
        arr = _as_numeric_array(as_numpy(got[key]))
        if arr is None or arr.shape != shape:
            raise CheckFailed(f"the gradient {key} from `{name}` should have the shape of {input_name}, "
                              f"{_fmt_shape(shape)}, but it is {describe_value(as_numpy(got[key]))}.")
    for key, input_name in wrt.items():
        numeric = numerical_gradient(f, inputs, input_name, eps)
        err = relative_error(as_numpy(got[key]), numeric)
        if np.isfinite(err).all() and err.max() <= tol:
            continue
        for message, mistake in variants:
            wrong = mistake()
            if key in wrong and compare(got[key], wrong[key]) is None:
                raise CheckFailed(f"`{name}`: {message}.")
        idx = np.unravel_index(int(np.nanargmax(np.where(np.isfinite(err), err, np.inf))), err.shape) if err.ndim else ()
        at = f" at index {tuple(int(i) for i in idx)}" if idx else ""
        raise CheckFailed(f"`{name}`: the gradient {key} does not match finite differences: the largest "
                          f"relative error is {float(np.nan_to_num(err[idx], nan=np.inf)):.3g}{at} (got "
                          f"{float(np.asarray(as_numpy(got[key]))[idx]):.6g}, numerically {float(numeric[idx]):.6g}; "
                          f"accepted up to {tol:g}).")


# ----------------------------------------------------------------------------- trained models
def check_metric(predict, inputs, target, metric, *, threshold, name, metric_name, higher_is_better=False):
    """Score a trained model on held-out data: ``metric(predict(**inputs), target)`` vs ``threshold``.

    The check makes ``inputs`` and ``target`` itself (from a seed of its own), so the student's
    notebook never saw them, and only ``inputs`` go to the student's code: the target stays here.
    Returns the metric's value.
    """
    got = _call(predict, name, (), **copy.deepcopy(inputs))
    got = as_numpy(got)
    arr = _as_numeric_array(got)
    target = np.asarray(as_numpy(target))
    if arr is None or arr.shape != target.shape:
        raise CheckFailed(f"`{name}` should return predictions of shape {_fmt_shape(target.shape)}, but it "
                          f"returned {describe_value(got)}.")
    if not np.isfinite(arr).all():
        raise CheckFailed(f"`{name}` returned NaN or infinite predictions.")
    value = float(metric(arr.astype(np.float64), target.astype(np.float64)))
    good = value >= threshold if higher_is_better else value <= threshold
    if not good:
        bound = "at least" if higher_is_better else "at most"
        raise CheckFailed(f"`{name}`: the {metric_name} on held-out data is {value:.4g}; it must be {bound} "
                          f"{threshold:g}. Train longer, or check the model and the training loop.")
    return value


def check_causal(fn, x, *, times, name, time_axis=1, out_time_axis=None, select=None, seed=0):
    """Outputs before time t must not change when only the inputs at t and later change.

    fn(x) runs the student's model on ``x``; select picks the output sequence from its result.
    For each t in ``times`` the inputs from t on are replaced by noise (on a copy). An output
    before t that changes means the model reads the future (a bidirectional layer, a look-ahead
    window, or the targets themselves).
    """
    select = select or (lambda result: result)
    out_time_axis = time_axis if out_time_axis is None else out_time_axis
    rng = np.random.default_rng(seed)
    x = np.asarray(as_numpy(x))
    base = np.asarray(as_numpy(_select(select, _call(fn, name, (), x.copy()), name)))
    for t in times:
        moved = x.copy()
        future = [slice(None)] * x.ndim
        future[time_axis] = slice(t, None)
        moved[tuple(future)] = rng.normal(size=moved[tuple(future)].shape) * 3
        out = np.asarray(as_numpy(_select(select, _call(fn, name, (), moved), name)))
        past = [slice(None)] * base.ndim
        past[out_time_axis] = slice(0, t)
        if out.shape != base.shape:
            raise CheckFailed(f"`{name}` returned outputs of another shape for inputs of the same shape.")
        if compare(out[tuple(past)], base[tuple(past)], rtol=1e-6, atol=1e-9) is not None:
            changed = np.nonzero(~np.isclose(out[tuple(past)], base[tuple(past)], rtol=1e-6, atol=1e-9))[out_time_axis]
            raise CheckFailed(f"`{name}` reads the future: its output at time {int(changed.min())} changed when "
                              f"only the inputs at time {t} and later changed. A prediction may use only "
                              "inputs up to its own time step.")
