"""Hidden checks, one module per assignment (named like the assignment).

Each module defines one function per graded test cell, named after the cell's grade_id and
taking the ``student`` object (see autograder/checking.py). Its docstring's first line is the
part's title in feedback.
"""
