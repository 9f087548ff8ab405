"""Run one hidden check inside a notebook kernel (plain nbgrader: validate, or its autograde).

Our own grader never runs this: it runs the same check functions in the grader process against
the sandboxed student code (autograder/engine.py). Inside a kernel the student's functions are
called directly, so this path has no tamper protection; it exists so that `nbgrader validate`
and plain `nbgrader autograde` grade the instructor notebooks the same way.
"""
import importlib

from autograder.checking import StudentCodeError


class KernelStudent:
    """The student's namespace, with exceptions turned into StudentCodeError like the sandbox's."""

    def __init__(self, namespace):
        self._namespace = namespace

    def __getattr__(self, name):
        fn = self._namespace.get(name)

        def call(*args, **kwargs):
            if fn is None or not callable(fn):
                raise StudentCodeError(name, "NameError", f"name {name!r} is not defined", missing=True)
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                raise StudentCodeError(name, type(exc).__name__, str(exc),
                                       memory=isinstance(exc, MemoryError)) from None

        return call


def run_hidden_check(assignment, check_name, namespace):
    checks = importlib.import_module(f"autograder.checks.{assignment}")
    getattr(checks, check_name)(KernelStudent(namespace))
