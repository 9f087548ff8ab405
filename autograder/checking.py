"""Helpers for hidden checks: compare a student's function with the reference, explain mismatches.

A chapter's checks live in ``autograder/checks/<assignment>.py``: one function per graded test
cell, named after the cell's ``grade_id``, taking a ``student`` object whose attributes are the
student's functions. The grader runs these checks in its own process; ``student.f(...)`` runs the
student's ``f`` in the sandbox and returns plain data, so nothing the student's code did to numpy,
to the testing helpers or to IPython can change a verdict.

A failed check raises ``CheckFailed`` with a message in words. ``check_function`` compares on
seeded cases and recognises patterns (``variants``): if the student's output equals the reference
run with, say, the bias zeroed, the message says "the bias is missing" instead of quoting numbers.
"""
import copy

import numpy as np

# Loose enough for a correct answer computed another way (einsum, loops, float32 inside),
# tight enough that every real mistake (a missing term, a wrong activation) is far outside.
FLOAT64_TOL = dict(rtol=1e-5, atol=1e-7)
FLOAT32_TOL = dict(rtol=1e-4, atol=1e-5)


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


def _fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def describe_value(value):
    if isinstance(value, np.ndarray):
        return f"an array of shape {_fmt_shape(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} items"
    if value is None:
        return "None"
    if hasattr(value, "type_name"):  # sandbox.Opaque: an object that is not plain data
        return f"an object of type {value.type_name} (return a numpy array)"
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

    ``expected`` may be an array, a number, or a tuple/list/dict of those (compared item by item).
    """
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


def _tolerance(case, got):
    arrays = [v for v in case.values() if isinstance(v, (np.ndarray, np.generic))]
    if isinstance(got, (np.ndarray, np.generic)):
        arrays.append(got)
    if any(a.dtype == np.float32 for a in arrays):
        return FLOAT32_TOL
    return FLOAT64_TOL


def explain_error(name, error, hints=()):
    """Turn a StudentCodeError into a sentence; ``hints`` are (substring, advice) pairs."""
    if error.missing:
        return (f"`{name}` is not defined. Run the cell that defines it; if that cell shows an "
                f"error, fix it first ({error.ename}: {error.evalue}).")
    if error.ename == "NotImplementedError":
        return f"`{name}` is not implemented yet: replace `raise NotImplementedError()` with your code."
    if error.memory:
        return f"`{name}` ran out of memory (the grader's memory limit)."
    advice = next((a for s, a in hints if s in f"{error.ename}: {error.evalue}"), "")
    text = f"`{name}` raised {error.ename}: {error.evalue}"
    if advice:
        text += f". Hint: {advice}"
    if error.traceback:
        text += f"\n\nTraceback of your code:\n{error.traceback}"
    return text


def check_function(student_fn, reference_fn, cases, *, name, select=None, variants=(), hints=()):
    """Compare ``student_fn`` with ``reference_fn`` on every case (a dict of keyword arguments).

    - select(result) -> the part of the result to compare (e.g. ``out`` of ``(out, cache)``);
      it may raise CheckFailed to say the result has the wrong structure.
    - variants: (message, fn) pairs. fn(**case) gives the result of a known mistake; when the
      student's output matches it, the message is what the student reads.
    - hints: (substring, advice) pairs for exceptions the student's code raises.
    Tolerances: rtol=1e-5 in float64, 1e-4 when a float32 value is involved.
    """
    select = select or (lambda result: result)
    for case in cases:
        try:
            got = student_fn(**copy.deepcopy(case))
        except StudentCodeError as error:
            raise CheckFailed(explain_error(name, error, hints)) from None
        got = select(got)
        expected = select(reference_fn(**copy.deepcopy(case)))
        tol = _tolerance(case, got)
        problem = compare(got, expected, what=f"the output of `{name}`", **tol)
        if problem is None:
            continue
        for message, mistake in variants:
            try:
                wrong = select(mistake(**copy.deepcopy(case)))
            except (ValueError, CheckFailed):
                continue
            if compare(got, wrong, **tol) is None:
                raise CheckFailed(f"`{name}`: {message} (inputs: {describe_case(case)}).")
        raise CheckFailed(f"{problem} (inputs: {describe_case(case)}).")


def pair_first(what):
    """A ``select`` for functions returning ``(out, cache)``: check the pair, keep ``out``."""

    def select(result):
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise CheckFailed(f"`{what}` should return a pair `(out, cache)`, but it returned "
                              f"{describe_value(result)}.")
        return result[0]

    return select
