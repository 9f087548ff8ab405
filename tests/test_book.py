"""The book is built from a clean _build as part of the suite; then the site is checked.

The build is the test of the book: every lesson executes on CPU, and any warning or cell error
fails `jupyter-book build . -n -W --keep-going`. The site must not leak solutions or hidden tests.
"""
import functools
import inspect
import re
from pathlib import Path

import nbformat
import pytest

from autograder.course import Course
from autograder.sync import solution_functions

REPO = Path(__file__).resolve().parent.parent
COURSE = Course()
ON_SITE = [a for a in COURSE.assignments() if COURSE.assignment(a).chapter]  # shown as <chapter>/exercise


# The `site` fixture (tests/conftest.py) builds the book once per session, as `make book` does;
# tests/test_site_browser.py opens the same build in a browser.


def test_every_toc_page_is_built(site):
    toc = (REPO / "_toc.yml").read_text()
    for page in re.findall(r"(?:root|file):\s*(\S+)", toc):
        assert (site / f"{page}.html").exists(), f"{page} missing from the site"


def test_site_opens_on_the_introduction(site):
    index = (site / "index.html").read_text()
    assert "chapters/intro.html" in index


def test_lesson_shows_computed_numbers_and_figures(site):
    lesson = (site / "chapters" / "01_rnn_by_hand" / "lesson.html").read_text()
    assert "0.5370" in lesson, "h_1 = tanh(0.6) = 0.5370 of the worked example must appear"
    assert lesson.count("<img") >= 2, "the lesson's figures are missing"
    assert "Traceback" not in lesson


@pytest.mark.parametrize("assignment", ON_SITE)
def test_exercise_page_is_the_student_version(site, assignment):
    chapter = COURSE.assignment(assignment).chapter
    page = (site / chapter / "exercise.html").read_text()
    assert "YOUR CODE HERE" in page and "NotImplementedError" in page
    assert (site / "_sources" / chapter / "exercise.ipynb").exists(), "the notebook can be downloaded"


CODE_WIDTH = 79  # at 1280 px the content column shows about 80 characters of code; longer lines scroll


def _code_lines(notebook):
    """(cell number, line) for every line of code: the code cells, and the fenced code blocks
    (``` or ~~~, directives included) of the markdown cells."""
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type == "code":
            yield from ((number, line) for line in cell.source.splitlines())
        elif cell.cell_type == "markdown":
            fence = None
            for line in cell.source.splitlines():
                if fence is None:
                    opening = re.match(r"\s*(`{3,}|~{3,})", line)
                    fence = opening.group(1) if opening else None
                elif re.fullmatch(rf"\s*{re.escape(fence[0])}{{{len(fence)},}}\s*", line):
                    fence = None
                else:
                    yield number, line


@pytest.mark.parametrize("assignment", ON_SITE)
def test_exercise_code_fits_the_content_column(site, assignment):
    """The exercise page (the released notebook, as the site downloads it) scrolls no line of code
    sideways on a desktop: every line of its code cells (answer stubs, given code, self-checks)
    and of its markdown's code blocks is at most CODE_WIDTH characters. Wrap with parentheses or
    intermediate names; answer cells come from solutions/ (`python -m autograder sync --write`)."""
    chapter = COURSE.assignment(assignment).chapter
    notebook = nbformat.read(site / "_sources" / chapter / "exercise.ipynb", as_version=4)
    long = [f"cell {number}, {len(line)} characters: {line.strip()[:60]}"
            for number, line in _code_lines(notebook) if len(line) > CODE_WIDTH]
    assert not long, (f"{len(long)} line(s) of code in {chapter}/exercise.ipynb are longer than "
                      f"{CODE_WIDTH} characters and scroll on the page:\n  " + "\n  ".join(long))


@functools.cache
def _solution_lines():
    """Distinctive lines of every reference function that answers an exercise cell."""
    lines = set()
    course = Course()
    for assignment in course.assignments():
        source = nbformat.read(course.source_notebook(assignment), as_version=4)
        answers = {c.metadata["nbgrader"]["grade_id"] for c in source.cells
                   if c.metadata.get("nbgrader", {}).get("solution")}
        for name, fn in solution_functions(course.assignment(assignment)).items():
            if name not in answers:
                continue  # a helper the students are given

            body = inspect.getsource(fn).split('"""')[-1]
            for line in body.splitlines():
                line = line.split("#")[0].strip()
                if len(line) >= 25:
                    lines.add(line)
    return lines


@functools.cache
def _model_answers():
    course = Course()
    texts = []
    for assignment in course.assignments():
        for cell in nbformat.read(course.source_notebook(assignment), as_version=4).cells:
            if cell.cell_type == "markdown" and "BEGIN SOLUTION" in cell.source:
                inner = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
                texts += [l.strip() for l in inner.splitlines() if len(l.strip()) > 30]
    return texts


def _leaks(text):
    found = [m for m in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "run_hidden_check")
             if m in text]
    flat = re.sub(r"\s+", " ", text)
    found += [f"solution line: {l}" for l in _solution_lines() if re.sub(r"\s+", " ", l) in flat]
    found += [f"model answer: {l[:40]}" for l in _model_answers() if l in text]
    return found


# Files of the site that are not text: images, fonts, compiled translations, Sphinx's compressed inventory.
BINARY = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".woff", ".woff2", ".ttf", ".otf", ".eot", ".mo", ".inv", ".pdf"}


def test_site_leaks_no_solutions_or_hidden_tests(site):
    """Every file of the built site, not only its pages: the downloads (_sources/: .ipynb, .md,
    any .py), the search index, scripts, MathJax. A file that is not UTF-8 text must be a known
    binary kind, so that no text file escapes the check by its name."""
    leaks, unread = {}, []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            if path.suffix.lower() not in BINARY:
                unread.append(str(path.relative_to(site)))
            continue
        if found := _leaks(text):
            leaks[str(path.relative_to(site))] = found
    assert not leaks, f"the built site leaks: {leaks}"
    assert not unread, f"files of the site that are neither UTF-8 text nor a known binary kind: {unread}"
    downloads = {p.suffix for p in (site / "_sources").rglob("*") if p.is_file()}
    assert ".ipynb" in downloads and ".md" in downloads, f"the downloads were not checked: {downloads}"


def test_launch_notebooks_leak_nothing(site):
    """The notebooks the launch buttons open (the released exercises and the lessons' .ipynb twins
    in chapters/, which the Pages workflow publishes on the `notebooks` branch)."""
    notebooks = sorted((REPO / "chapters").rglob("*.ipynb"))
    assert {p.name for p in notebooks} >= {"exercise.ipynb", "lesson.ipynb"}, f"not built: {notebooks}"
    leaks = {str(p.relative_to(REPO)): found for p in notebooks if (found := _leaks(p.read_text()))}
    assert not leaks, f"a notebook the launch buttons open leaks: {leaks}"


# The release of every assignment is leak-checked in tests/test_assignments.py.


@pytest.mark.parametrize("assignment", COURSE.assignments())
def test_leak_check_would_catch_a_leak(assignment):
    """Each assignment's instructor source leaks by definition: the check must see its solution
    bodies even without the markers around them."""
    source = COURSE.source_notebook(assignment).read_text()
    unmarked = re.sub(r"### (BEGIN|END) SOLUTION", "", source)
    assert any(leak.startswith(("solution line", "model answer")) for leak in _leaks(unmarked)), \
        f"the leak check finds no solution body of {assignment}: it checks nothing"
