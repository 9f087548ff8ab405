"""Grade what the student wrote, not the cell layout (README, "How a submission is graded").

Answer cells merged into one, split over two, reordered, or stripped of their nbgrader metadata are
graded by the functions the student defined; a release stub never overwrites a definition the
student made elsewhere; a duplicated cell prints no warning at the instructor; tampering with test
or read-only cells is detected as before.

The unit tests assemble chapter 1's real release with submissions built from it and edited as a
student's notebook would be, then run the assembled cells that would run (setup, answers, added
cells) in a plain namespace: the submissions are the course's own reference code, so nothing
untrusted runs here. One end-to-end test grades the same kinds of notebook for real.
"""
import copy
import json
import logging
import warnings

import nbformat
import numpy as np
import pytest

from conftest import ASSIGNMENT, build_submission, grade_submissions, solution_sources

from autograder.assemble import assemble, nbgrader_meta, read_submission
from autograder.grading import autograded_notebook

RUN = ("setup", "solution", "added")  # the roles the sandbox runs; "test" cells never run there


# ----------------------------------------------------------------------------- notebook surgery
def _index(nb, grade_id):
    return next(i for i, c in enumerate(nb.cells) if nbgrader_meta(c).get("grade_id") == grade_id)


def _strip(nb):
    """Every cell loses its nbgrader metadata, as some editors and copy-pastes into a fresh notebook do."""
    nb = copy.deepcopy(nb)
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _code(cell):
    return nbformat.v4.new_code_cell(cell if isinstance(cell, str) else cell.source)


def merged(course):
    """Both part-3 functions written in the `combine_weights` cell; the other answer cell deleted."""
    ref = solution_sources()
    nb = build_submission(course, {"combine_weights": ref["combine_weights"] + "\n\n\n" + ref["rnn_step_combined"]})
    del nb.cells[_index(nb, "rnn_step_combined")]
    return nb


def merged_into_later(course):
    """The same, written in the later cell (`rnn_step_combined`); `combine_weights`'s cell deleted."""
    ref = solution_sources()
    nb = build_submission(course, {"rnn_step_combined": ref["combine_weights"] + "\n\n\n" + ref["rnn_step_combined"]})
    del nb.cells[_index(nb, "combine_weights")]
    return nb


def split(course):
    """`rnn_forward`'s answer over two cells: a helper in the answer cell, the function in a new cell
    below it without metadata (Jupyter's "split cell" copies the metadata; a new cell has none)."""
    helper = "def one_step(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity):\n" \
             "    return rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)"
    body = solution_sources()["rnn_forward"].replace(
        "rnn_step_forward(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)",
        "one_step(x_t, h, W_ih, W_hh, b_ih, b_hh, nonlinearity)")
    assert "one_step(" in body
    nb = build_submission(course, {"rnn_forward": helper})
    nb.cells.insert(_index(nb, "rnn_forward") + 1, _code(body))
    return nb


def reordered(course, nb=None):
    """Answer cells moved about: part 2's answer to the very end, part 4's above part 1."""
    nb = copy.deepcopy(nb) if nb is not None else build_submission(course)
    last = nb.cells.pop(_index(nb, "rnn_step_forward"))
    nb.cells.append(last)
    four = nb.cells.pop(_index(nb, "rnn_forward"))
    nb.cells.insert(_index(nb, "rnn_step_scalar"), four)
    return nb


def stripped(course):
    return _strip(build_submission(course))


def stripped_and_merged(course):
    """Metadata stripped, parts 1 and 2 in one cell, part 2's cell deleted, and the whole lot reordered."""
    ref = solution_sources()
    nb = build_submission(course, {"rnn_step_scalar": ref["rnn_step_forward"] + "\n\n\n" + ref["rnn_step_scalar"]})
    del nb.cells[_index(nb, "rnn_step_forward")]
    nb = _strip(nb)
    nb.cells.reverse()
    return nb


def as_bytes(nb, minor=None, ids=True):
    """The file as received: optionally an older nbformat minor and cells without ids (as Colab writes)."""
    data = json.loads(json.dumps(nb))
    if minor is not None:
        data["nbformat_minor"] = minor
    if not ids:
        for cell in data["cells"]:
            cell.pop("id", None)
    return json.dumps(data).encode()


# ----------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def release(released_course):
    return nbformat.read(released_course.release_notebook(ASSIGNMENT), as_version=4)


def run(cells):
    """Run what the sandbox would run, in order, in a fresh namespace; returns the namespace."""
    ns = {}
    for role, cell in cells:
        if role in RUN:
            exec(compile(cell.source, f"<{role}>", "exec"), ns)  # our own reference code, see the docstring
    return ns


def assert_all_correct(ns):
    """Every graded function of chapter 1 is the student's working one (not a stub): closed forms."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 4, 3)); h0 = rng.normal(size=(4, 7))
    W_ih, W_hh = rng.normal(size=(7, 3)), rng.normal(size=(7, 7))
    b_ih, b_hh = rng.normal(size=7), rng.normal(size=7)
    V, c = rng.normal(size=(2, 7)), rng.normal(size=2)
    assert np.isclose(ns["rnn_step_scalar"](0.5, -0.3, 0.8, 1.1, 0.1), np.tanh(0.5 * 0.8 - 0.3 * 1.1 + 0.1))
    got, _ = ns["rnn_step_forward"](x[0], h0, W_ih, W_hh, b_ih, b_hh)
    assert np.allclose(got, np.tanh(x[0] @ W_ih.T + b_ih + h0 @ W_hh.T + b_hh))
    W = ns["combine_weights"](W_ih, W_hh)
    assert np.allclose(W, np.hstack([W_ih, W_hh]))
    assert np.allclose(ns["rnn_step_combined"](x[0], h0, W, b_ih + b_hh), got)
    out, _ = ns["rnn_forward"](x, h0, W_ih, W_hh, b_ih, b_hh)
    h = h0
    for t, x_t in enumerate(x):
        h = np.tanh(x_t @ W_ih.T + b_ih + h @ W_hh.T + b_hh)
        assert np.allclose(out[t], h)
    y = ns["many_to_one_forward"](x, h0, W_ih, W_hh, b_ih, b_hh, V, c)
    assert np.allclose(y, out[-1] @ V.T + c)


def release_tests(release):
    """The release's test cells (graded, not answers: the written answer is graded too)."""
    return [c.source for c in release.cells if nbgrader_meta(c).get("grade") and not nbgrader_meta(c).get("solution")]


def sources(cells, roles=RUN):
    return [cell.source for role, cell in cells if role in roles]


def student_order(nb, release):
    """The sources of the student's code cells that are not copies of release cells, in their order."""
    fixed = {c.source.strip() for c in release.cells if not nbgrader_meta(c).get("solution")}
    return [c.source for c in nb.cells if c.cell_type == "code" and c.source.strip() not in fixed]


# ----------------------------------------------------------------------------- the release's order
def test_a_notebook_in_the_releases_order_assembles_as_the_release_with_its_answers(released_course, release):
    nb = build_submission(released_course)
    cells, notes, tampering = assemble(release, nb)
    assert notes == [] and tampering == []
    answers = {nbgrader_meta(c)["grade_id"]: c.source for c in nb.cells if nbgrader_meta(c).get("solution")}
    expected = [(c.cell_type, answers.get(nbgrader_meta(c).get("grade_id"), c.source)) for c in release.cells]
    assert [(c.cell_type, c.source) for _, c in cells] == expected
    roles = [r for r, _ in cells]
    assert roles.count("test") == len(release_tests(release)) == 5
    assert_all_correct(run(cells))


def test_added_cells_and_restored_cells_keep_their_places_in_the_releases_order(released_course, release):
    nb = build_submission(released_course)
    nb.cells.insert(_index(nb, "rnn_step_scalar") + 1, _code("ADDED_AFTER_SCALAR = 1"))
    nb.cells.insert(0, _code("ADDED_FIRST = 1"))
    test_cell = nb.cells.pop(_index(nb, "test_rnn_step_forward"))
    nb.cells.insert(_index(nb, "rnn_step_forward") + 1, _code("ADDED_AFTER_STEP = 1"))
    cells, notes, tampering = assemble(release, nb)
    texts = [c.source for _, c in cells]
    gid = lambda g: next(i for i, (_, c) in enumerate(cells) if nbgrader_meta(c).get("grade_id") == g)
    assert texts.index("ADDED_FIRST = 1") == 0
    assert texts.index("ADDED_AFTER_SCALAR = 1") == gid("rnn_step_scalar") + 1
    assert texts.index("ADDED_AFTER_STEP = 1") == gid("rnn_step_forward") + 1
    assert gid("test_rnn_step_forward") == gid("rnn_step_forward") + 2  # restored after the added cell
    assert cells[gid("test_rnn_step_forward")][1].source == test_cell.source
    assert any("`test_rnn_step_forward` was deleted" in t for t in tampering)


# ----------------------------------------------------------------------------- merged, deleted
@pytest.mark.parametrize("make, deleted", [(merged, "rnn_step_combined"), (merged_into_later, "combine_weights")])
def test_merged_answers_are_graded_and_no_stub_overwrites_them(released_course, release, make, deleted):
    cells, notes, tampering = assemble(release, make(released_course))
    assert tampering == []
    assert not any("NotImplementedError" in s for s in sources(cells)), sources(cells)
    assert any(f"`{deleted}` was deleted" in n and f"`{deleted}`" in n.split("definition of", 1)[-1]
               and "elsewhere was graded" in n for n in notes), notes
    assert_all_correct(run(cells))


def test_a_deleted_answer_that_nothing_else_defines_gets_the_stub_and_a_note(released_course, release):
    nb = build_submission(released_course)
    del nb.cells[_index(nb, "combine_weights")]
    cells, notes, tampering = assemble(release, nb)
    assert tampering == []
    assert any("`combine_weights` was deleted; the original empty cell was used" in n for n in notes), notes
    ns = run(cells)
    with pytest.raises(NotImplementedError):
        ns["combine_weights"](np.eye(2), np.eye(2))
    assert np.isclose(ns["rnn_step_scalar"](1.0, 0.0, 0.5, 0.8, 0.1), np.tanh(0.6))


def test_a_stub_that_defines_two_names_is_put_back_only_for_the_name_the_student_did_not_define(released_course):
    from autograder.assemble import _defined_names, _stub_without

    stub = "import math\n\n\ndef f(x):\n    raise NotImplementedError()\n\n\n@staticmethod\ndef g(x):\n    return x\n"
    assert _defined_names(stub) == {"math", "f", "g"}
    kept = _stub_without(stub, {"f"})
    assert "def g" in kept and "def f" not in kept and "import math" in kept
    assert _defined_names("x = (\n") is None  # does not parse: run as is, defines nothing we know of
    assert _defined_names("%time y = 1\nclass C: pass\nfor i in range(2): pass") >= {"C", "i"}
    assert _defined_names("%%time\ndef f(x):\n    return x") == {"f"}  # the body runs in the notebook
    assert _defined_names("try:\n    import torch as T\nexcept ImportError:\n    def g(): pass") == {"T", "g"}


def test_a_retyped_answer_is_tampering_and_a_definition_elsewhere_is_still_graded(released_course, release):
    ref = solution_sources()
    both = ref["rnn_step_scalar"] + "\n\n\n" + ref["rnn_step_forward"]
    nb = build_submission(released_course, {"rnn_step_scalar": both})
    i = _index(nb, "rnn_step_forward")
    nb.cells[i] = nbformat.v4.new_markdown_cell(nb.cells[i].source, metadata=nb.cells[i].metadata)
    cells, notes, tampering = assemble(release, nb)
    assert any("`rnn_step_forward` was changed to another cell type" in t and "elsewhere was graded" in t
               for t in tampering), tampering
    assert_all_correct(run(cells))


def test_odd_metadata_and_the_same_notebook_twice(released_course, release):
    nb = build_submission(released_course)
    nb.cells.append(_code("ODD = 1"))
    nb.cells[-1].metadata["nbgrader"] = {"grade_id": ["not", "a", "string"], "solution": True}
    first = assemble(release, nb)
    assert "ODD = 1" in sources(first[0], ("added",)) and first[1:] == ([], [])
    again = assemble(release, copy.deepcopy(nb))
    assert [(r, dict(c)) for r, c in first[0]] == [(r, dict(c)) for r, c in again[0]]  # ids included


# ----------------------------------------------------------------------------- split, reordered
def test_an_answer_split_over_two_cells_is_graded(released_course, release):
    nb = split(released_course)
    cells, notes, tampering = assemble(release, nb)
    assert tampering == [] and notes == []
    assert_all_correct(run(cells))


def test_reordered_answers_run_in_the_students_order(released_course, release):
    nb = reordered(released_course)
    cells, notes, tampering = assemble(release, nb)
    assert tampering == [] and notes == []
    assert [s for s in sources(cells, ("solution", "added"))] == student_order(nb, release)
    assert_all_correct(run(cells))
    # the setup cell still runs before any student code
    assert sources(cells)[0] == release.cells[_index(release, "setup")].source


def test_a_later_definition_in_the_students_order_wins(released_course, release):
    # the student fixed rnn_step_scalar in a cell they moved to the end: the fix is what is graded
    wrong = "def rnn_step_scalar(x_t, h_prev, w_x, w_h, b):\n    return w_x * x_t + w_h * h_prev + b"
    nb = build_submission(released_course, {"rnn_step_scalar": wrong})
    nb.cells.append(_code(solution_sources()["rnn_step_scalar"]))
    moved = nb.cells.pop(_index(nb, "many_to_one_forward"))
    nb.cells.insert(_index(nb, "setup") + 1, moved)
    cells, _, _ = assemble(release, nb)
    assert_all_correct(run(cells))


# ----------------------------------------------------------------------------- metadata stripped
@pytest.mark.parametrize("make", [stripped, stripped_and_merged])
def test_cells_without_metadata_are_graded_by_what_they_define(released_course, release, make):
    nb = make(released_course)
    cells, notes, tampering = assemble(release, nb)
    assert tampering == [], tampering
    assert not any("NotImplementedError" in s for s in sources(cells)), sources(cells)
    ran = sources(cells)
    assert len(ran) == len(set(ran)), "a cell ran twice"
    tests = release_tests(release)
    assert not set(tests) & set(ran), "a test cell would run in the student's process"
    assert sorted(sources(cells, ("test",))) == sorted(tests)  # the release's own tests are shown
    assert any("no nbgrader metadata" in n for n in notes), notes
    assert_all_correct(run(cells))


def test_the_written_answer_without_metadata_is_kept_for_the_instructor(released_course, release):
    cells, notes, _ = assemble(release, stripped(released_course))
    written = [c for _, c in cells if nbgrader_meta(c).get("grade_id") == "written_answer"]
    assert len(written) == 1 and "A student's own answer" in written[0].source


def test_a_test_cell_without_metadata_is_never_trusted(released_course, release):
    nb = stripped(released_course)
    i = next(i for i, c in enumerate(nb.cells) if c.source == release.cells[_index(release, "test_rnn_forward")].source)
    nb.cells[i].source = 'print("✓ all checks passed")'
    nb.cells.insert(i, _code(release.cells[_index(release, "test_many_to_one")]))  # an exact copy, elsewhere
    nb.cells.append(_code("### BEGIN HIDDEN TESTS\nrun_hidden_check('x', 'y', globals())\n### END HIDDEN TESTS"))
    cells, notes, tampering = assemble(release, nb)
    ran = sources(cells)
    assert 'print("✓ all checks passed")' in ran  # the student's own code, run as an added cell
    assert not any("HIDDEN TESTS" in s for s in ran)
    tests = release_tests(release)
    assert sorted(sources(cells, ("test",))) == sorted(tests) and not set(tests) & set(ran)
    assert any("`test_rnn_forward`" in t for t in tampering), tampering
    assert any("hidden" in t for t in tampering), tampering
    assert not any("`test_many_to_one`" in t for t in tampering), tampering


def test_an_edited_read_only_cell_without_metadata_is_tampering_and_the_original_runs(released_course, release):
    nb = stripped(released_course)
    i = _index(release, "activation")
    assert nb.cells[i].source == release.cells[i].source
    nb.cells[i].source = "def activation(name):\n    return lambda z: np.maximum(z, 0.0)"
    cells, _, tampering = assemble(release, nb)
    assert any("`activation`" in t for t in tampering), tampering
    assert release.cells[i].source in sources(cells, ("setup",))


# ----------------------------------------------------------------------------- no warnings
@pytest.mark.parametrize("minor, ids", [(5, True), (4, False), (5, False)])
def test_duplicated_cells_print_no_warning_at_the_instructor(released_course, release, tmp_path, caplog, minor, ids):
    nb = build_submission(released_course)
    i = _index(nb, "rnn_step_forward")
    nb.cells.insert(i + 1, copy.deepcopy(nb.cells[i]))  # same id and metadata: a copy-paste
    j = _index(nb, "activation")
    nb.cells.insert(j + 1, copy.deepcopy(nb.cells[j]))
    path = tmp_path / "dup.ipynb"
    path.write_bytes(as_bytes(nb, minor, ids))
    with warnings.catch_warnings(), caplog.at_level(logging.WARNING):
        warnings.simplefilter("error")
        submitted = read_submission(path)
        cells, notes, tampering = assemble(release, submitted)
        out = autograded_notebook(release, cells, {}, {})
        nbformat.write(out, str(tmp_path / "out.ipynb"))
        nbformat.read(str(tmp_path / "out.ipynb"), as_version=4)
    assert not caplog.records, [r.getMessage() for r in caplog.records]
    assert any("`rnn_step_forward` appears 2 times" in n for n in notes), notes
    assert tampering == []
    ids = [c.id for _, c in cells]
    assert len(ids) == len(set(ids))
    assert_all_correct(run(cells))


# ----------------------------------------------------------------------------- graded for real
def test_layouts_other_than_the_releases_get_full_marks_and_tampering_is_still_found(course, tmp_path, capfd):
    full = sum(part.points for part in course.assignment(ASSIGNMENT).parts.values())
    tampered = stripped(course)  # the hard case: no metadata says which cell was the test
    release = nbformat.read(course.release_notebook(ASSIGNMENT), as_version=4)
    tampered.cells[_index(release, "test_rnn_forward")].source = "pass"
    duplicated = build_submission(course)
    i = _index(duplicated, "rnn_step_forward")
    duplicated.cells.insert(i + 1, copy.deepcopy(duplicated.cells[i]))  # a copy-paste: same id, same metadata
    submitted = {
        "correct": build_submission(course),
        "duplicated": as_bytes(duplicated),
        "duplicated_no_ids": as_bytes(duplicated, minor=5, ids=False),
        "merged": merged(course),
        "stripped": as_bytes(stripped(course), minor=4, ids=False),
        "split_reordered": reordered(course, split(course)),
        "stripped_merged": stripped_and_merged(course),
        "tampered": tampered,
    }
    results = grade_submissions(course, submitted, tmp_path)
    got = {student: (r["score"], r["status"]) for student, r in results.items()}
    expected = {student: (full, "tampered" if student == "tampered" else "graded") for student in submitted}
    assert got == expected, {s: results[s].get("detail") for s in submitted if got[s] != expected[s]}
    assert results["correct"]["notes"] == []
    assert any("`test_rnn_forward`" in n for n in results["tampered"]["notes"])
    assert any("`rnn_step_forward` appears 2 times" in n for n in results["duplicated"]["notes"])
    printed = capfd.readouterr()
    for words in ("DuplicateCellId", "MissingIDFieldWarning", "cell id", "missing an id", "Notebook JSON is invalid"):
        assert words not in printed.out + printed.err, printed.err[-2000:]  # nbformat's warnings, as printed
