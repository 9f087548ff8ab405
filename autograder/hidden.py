"""Run one hidden check inside a notebook kernel (plain nbgrader: validate, or its autograde).

Our own grader never runs this: it runs the same check functions in the grader process against
the sandboxed student code (autograder/grading.py). Inside a kernel the student's functions are
called through `KernelStudent`, which sends arguments and results through the same codec as the
sandbox, so both paths reach the same verdict; this path has no tamper protection. It exists so
that `nbgrader validate` and plain `nbgrader autograde` grade the instructor notebooks.
"""
import os

from autograder.course import DEFAULT_ROOT, Course
from autograder.student import KernelStudent


def run_hidden_check(assignment, check_name, namespace):
    # `Course.nbgrader` names the course it runs in; a kernel started otherwise uses the default
    course = Course(os.environ.get("RNN_COURSE_ROOT") or DEFAULT_ROOT)
    checks = course.assignment(assignment).checks_module()
    getattr(checks, check_name)(KernelStudent(namespace))
