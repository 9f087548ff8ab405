"""A fixture assignment for the grading machinery, built inside the tests (not listed in the course).

It has what chapters 2-5 will need graded: a forward step whose cache may be any object, a
backward step graded through the student's own cache, a torch module, and a trained model.
`course.py` writes it into a course folder (manifest, source notebook); `reference.py` solves
it; `checks.py` holds its hidden checks.
"""
