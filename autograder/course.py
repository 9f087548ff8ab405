"""The nbgrader course: paths of its standard layout, release, and collecting submissions."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from autograder import manifest

REPO = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = REPO / "autograder"
STUDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+-]{0,99}$")
# LMS exports name each file "<student>_<numbers>_<original name>" (Canvas: name_123_456_file.ipynb,
# with "_late" after the name when late); override with --pattern for other systems.
LMS_PATTERN = r"^(?P<student>[A-Za-z0-9.@+-]+?)(?:_late)?_\d+_\d+_(?P<file>.+)$"


class Course:
    def __init__(self, root=DEFAULT_ROOT, db_url=None):
        self.root = Path(root).resolve()
        self.db_url = db_url or f"sqlite:///{self.root / 'gradebook.db'}"
        self._manifests = {}

    def path(self, *parts):
        return self.root.joinpath(*parts)

    def assignments(self):
        """Names of the assignments this course lists: one manifest each in assignments/."""
        folder = self.path("assignments")
        return sorted(p.stem for p in folder.glob("*.toml")) if folder.is_dir() else []

    def assignment(self, name):
        """The manifest of ``name`` (autograder/manifest.py), read once per Course."""
        if name not in self._manifests:
            path = self.path("assignments", f"{name}.toml")
            if not path.exists():
                raise SystemExit(f"unknown assignment {name!r}; the course has: {', '.join(self.assignments())}")
            self._manifests[name] = manifest.load(path)
        return self._manifests[name]

    def source_notebook(self, assignment):
        return self.path("source", assignment, f"{assignment}.ipynb")

    def release_notebook(self, assignment):
        return self.path("release", assignment, f"{assignment}.ipynb")

    def submitted_students(self, assignment):
        folder = self.path("submitted")
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if (p / assignment).is_dir())

    def checks(self, assignment):
        return self.assignment(assignment).checks_module()

    def nbgrader(self, *args, check=True):
        """Run an nbgrader command in the course root with this course's gradebook."""
        cmd = [sys.executable, "-m", "nbgrader", *args, f"--CourseDirectory.db_url={self.db_url}",
               "--CourseDirectory.root=."]
        env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
                   RNN_COURSE_ROOT=str(self.root))
        proc = subprocess.run(cmd, cwd=self.root, env=env, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"nbgrader {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
        return proc


def release(course, assignments):
    """nbgrader generate_assignment: student notebooks (stubs, no hidden tests) into release/."""
    for assignment in assignments:
        course.nbgrader("generate_assignment", assignment, "--force")
        print(f"released {course.release_notebook(assignment).relative_to(course.root.parent)}")


def copy_course(source, root, db_url=None):
    """A new course at ``root`` with ``source``'s notebooks, manifests and nbgrader config."""
    root = Path(root)
    shutil.copytree(source.path("source"), root / "source")
    shutil.copytree(source.path("assignments"), root / "assignments")
    shutil.copy(source.path("nbgrader_config.py"), root / "nbgrader_config.py")
    return Course(root, db_url)


SITE_NOTEBOOK = "exercise.ipynb"  # a released exercise as the site offers it for download


def release_for_site(assignments):
    """Release into a throwaway course and copy each student notebook to its chapter's folder."""
    with tempfile.TemporaryDirectory() as tmp:
        site_course = copy_course(Course(), Path(tmp) / "course", db_url=f"sqlite:///{tmp}/gradebook.db")
        for assignment in assignments:
            chapter = site_course.assignment(assignment).chapter
            if chapter is None:
                continue
            if not (REPO / chapter).is_dir():
                raise SystemExit(f"{assignment}: its manifest's chapter folder {chapter} does not exist; "
                                 "the released exercise goes beside the chapter's lesson.md")
            site_course.nbgrader("generate_assignment", assignment, "--force")
            target = REPO / chapter / SITE_NOTEBOOK
            shutil.copy(site_course.release_notebook(assignment), target)
            print(f"site exercise {target.relative_to(REPO)}")


def _pick_notebook(files, assignment):
    """Choose the submitted notebook among (path, name) pairs; (path, note) or (None, reason)."""
    notebooks = [(p, n) for p, n in files if n.endswith(".ipynb") and ".ipynb_checkpoints" not in p.parts]
    # The release's name, then the site's download name (exercise.ipynb), which the lessons ask
    # learners to keep: neither is worth a note.
    for expected in (f"{assignment}.ipynb", SITE_NOTEBOOK):
        exact = [p for p, n in notebooks if n == expected]
        if exact:
            return exact[0], ""
    if len(notebooks) == 1:
        return notebooks[0][0], f"the notebook was named {notebooks[0][1]!r}, not {assignment + '.ipynb'!r}"
    if not notebooks:
        names = ", ".join(sorted(n for _, n in files)) or "nothing"
        return None, f"no .ipynb notebook was submitted (found: {names})"
    names = ", ".join(sorted(n for _, n in notebooks))
    return None, f"several notebooks and none named {assignment}.ipynb: {names}"


def _student_files(source, assignment, pattern):
    """Map student id -> list of (path, file name as the student named it)."""
    by_student = {}
    for entry in sorted(Path(source).iterdir()):
        if entry.name.startswith("."):
            continue
        if entry.is_dir():
            inner = entry / assignment if (entry / assignment).is_dir() else entry
            by_student[entry.name] = [(p, p.name) for p in inner.rglob("*") if p.is_file()]
        elif entry.is_file():
            match = re.match(pattern, entry.name) if pattern else None
            student, name = (match.group("student"), match.group("file")) if match else (entry.stem, entry.name)
            if not match and entry.suffix == ".ipynb":
                name = f"{assignment}.ipynb"  # <student>.ipynb: the file name is the student's id
            by_student.setdefault(student, []).append((entry, name))
    return by_student


def collect(course, assignment, source, pattern=None):
    """Copy submissions into submitted/<student>/<assignment>/ (the originals are only read).

    ``source`` is a folder (one sub-folder per student, or files named <student>.ipynb) or an
    LMS zip whose file names match ``pattern`` (default LMS_PATTERN). Returns a list of
    (student, note) with a note for anything unusual; a student with no usable notebook gets a
    ``missing.txt`` saying why, so grading records the reason.
    """
    source = Path(source).expanduser()
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                for member in archive.infolist():
                    name = Path(member.filename)
                    if member.is_dir() or name.is_absolute() or ".." in name.parts or "__MACOSX" in name.parts:
                        continue
                    target = Path(tmp, *name.parts)
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(archive.read(member))
            root = Path(tmp)
            entries = [p for p in root.iterdir() if not p.name.startswith(".")]
            if len(entries) == 1 and entries[0].is_dir():  # a zipped folder of submissions
                root = entries[0]
            by_student = _student_files(root, assignment, pattern or LMS_PATTERN)
        elif source.is_dir():
            by_student = _student_files(source, assignment, pattern)
        else:
            raise SystemExit(f"{source} is neither a folder nor a zip file")
        report = []
        for student, files in sorted(by_student.items()):
            if not STUDENT_ID.match(student):
                report.append((student, "skipped: not a usable student id (letters, digits, _ . @ + - only)"))
                continue
            folder = course.path("submitted", student, assignment)
            if folder.exists():
                shutil.rmtree(folder)
            folder.mkdir(parents=True)
            notebook, note = _pick_notebook(files, assignment)
            if notebook is None:
                (folder / "missing.txt").write_text(note + "\n")
            else:
                shutil.copyfile(notebook, folder / f"{assignment}.ipynb")
                if note:
                    (folder / "collect_note.txt").write_text(note + "\n")
            report.append((student, note))
    return report
