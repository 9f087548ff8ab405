"""Every assignment the course lists, chapter by chapter, with no chapter named here.

Each assignment is released, validated by nbgrader both ways, graded by our grader (reference
answers, the blank release, and each part broken in turn, all in one `autograde` run per
assignment) and checked for leaks. Expected points come from the manifest
(autograder/assignments/<name>.toml) and the notebook, never from the grader's output. What
only one chapter has (its named mistakes, its import rule) is in tests/test_<assignment>.py.
"""
import re

import nbformat
import pytest

from conftest import ASSIGNMENTS, copy_released, grade_submissions
from test_book import _leaks

from autograder.course import Course
from autograder.submissions import broken_part_submission, build_submission

MANIFESTS = {name: Course().assignment(name) for name in ASSIGNMENTS}
PARTS = [(name, part) for name, manifest in MANIFESTS.items() for part in manifest.parts]


def _nbgrader(cell):
    return cell.metadata.get("nbgrader", {})


def _release(course, assignment):
    return nbformat.read(course.release_notebook(assignment), as_version=4)


def _code(source):
    """Source without comments or blank lines: what a cell actually runs."""
    return "\n".join(line for line in (re.sub(r"#.*", "", l).strip() for l in source.splitlines()) if line)


def test_the_course_lists_assignments():
    assert ASSIGNMENTS, "no manifest in autograder/assignments/: every test below would pass on nothing"


# ------------------------------------------------------------------ release and nbgrader validate
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_instructor_source_validates(released_course, assignment):
    proc = released_course.nbgrader("validate", str(released_course.source_notebook(assignment)))
    assert "Success! Your notebook passes all the tests." in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_graded_test_fails_on_the_released_stubs(released_course, assignment):
    proc = released_course.nbgrader("validate", "--invert", str(released_course.release_notebook(assignment)))
    assert "Success! The notebook does not pass any tests." in proc.stdout, proc.stdout + proc.stderr


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_points_are_the_manifests(released_course, assignment):
    manifest = MANIFESTS[assignment]
    graded = {_nbgrader(c)["grade_id"]: _nbgrader(c)["points"] for c in _release(released_course, assignment).cells
              if _nbgrader(c).get("grade")}
    assert graded == {**{n: p.points for n, p in manifest.parts.items()}, **manifest.written}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_has_stubs_for_every_answer_and_a_visible_self_check_per_part(released_course, assignment):
    release = _release(released_course, assignment)
    answers = {_nbgrader(c)["grade_id"]: c.source for c in release.cells if _nbgrader(c).get("solution")}
    assert all("YOUR CODE HERE" in s or "YOUR ANSWER HERE" in s for s in answers.values())
    for part in MANIFESTS[assignment].parts.values():
        assert set(part.answers) <= set(answers), f"{part.name} grades cells the release lacks"
    tests = {_nbgrader(c)["grade_id"]: c.source for c in release.cells
             if _nbgrader(c).get("grade") and not _nbgrader(c).get("solution")}
    assert set(tests) == set(MANIFESTS[assignment].parts)
    assert all(_code(source) for source in tests.values()), "every part keeps a visible self-check"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_leaks_no_solutions_or_hidden_tests(released_course, assignment):
    raw = released_course.release_notebook(assignment).read_text()
    # the cells' decoded sources too: in the raw JSON a line with quotes is escaped and would not match
    sources = "\n".join(c.source for c in _release(released_course, assignment).cells)
    assert _leaks(raw) == [] and _leaks(sources) == []


# ------------------------------------------------------------------ graded by our grader
@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    """assignment -> {student: result}, graded in one batch per assignment when first asked for:
    the reference ("correct"), the release ("blank"), and "broken_<part>" for each part."""
    batches = {}

    def grade(assignment):
        if assignment not in batches:
            tmp = tmp_path_factory.mktemp(assignment)
            course = copy_released(released_course, tmp / "course")
            submitted = {"correct": build_submission(course, assignment=assignment),
                         "blank": build_submission(course, assignment=assignment, blank=True)}
            submitted.update({f"broken_{part}": broken_part_submission(course, assignment, part)
                              for part in MANIFESTS[assignment].parts})
            batches[assignment] = grade_submissions(course, submitted, tmp, assignment)
        return batches[assignment]

    return grade


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_reference_answers_get_exactly_full_marks(graded, assignment):
    manifest, result = MANIFESTS[assignment], graded(assignment)["correct"]
    assert result["status"] == "graded", result["detail"]
    assert {g: p["score"] for g, p in result["parts"].items()} == {n: p.points for n, p in manifest.parts.items()}
    assert result["score"] == manifest.auto_points
    assert result["max_score"] == manifest.total_points


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_release_gets_zero_and_is_told_what_is_not_implemented(graded, assignment):
    result = graded(assignment)["blank"]
    assert result["status"] == "graded", result["detail"]
    assert set(result["parts"]) == set(MANIFESTS[assignment].parts)
    assert result["score"] == 0
    assert all("not implemented" in p["message"] for p in result["parts"].values()), result["parts"]


@pytest.mark.parametrize("assignment, part", PARTS)
def test_breaking_one_part_loses_exactly_the_points_of_the_parts_it_affects(graded, assignment, part):
    manifest, result = MANIFESTS[assignment], graded(assignment)[f"broken_{part}"]
    affected = manifest.affected_by(part)
    expected = {n: 0.0 if n in affected else p.points for n, p in manifest.parts.items()}
    assert result["status"] == "graded", result["detail"]
    assert {g: p["score"] for g, p in result["parts"].items()} == expected
    assert result["score"] == manifest.auto_points - sum(manifest.parts[n].points for n in affected)
    assert "not implemented" in result["parts"][part]["message"], result["parts"][part]["message"]
    assert all(result["parts"][n]["message"] for n in affected), "every lost point is explained"
