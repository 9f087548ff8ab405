"""One manifest per assignment: ``<course>/assignments/<name>.toml``, read into an `Assignment`.

The manifest says what every tool needs to know about an assignment, so nothing else has to
repeat it: its checks module, the solution modules its answer cells come from, the parts with
their points, answer cells and dependencies, the written answers, the grader's limits and the
modules the sandbox preloads (numpy, or torch for torch assignments), and the module listing its
plausible mistakes and fair alternatives (the mutation gate). Release, sync, grading,
the tests and the site all read it through `Course.assignment(name)`.
"""
import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

KNOWN_KEYS = {"title", "chapter", "checks", "solutions", "preload", "limits", "parts", "written", "mutants"}
PART_KEYS = {"points", "answers", "depends"}


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Part:
    """An autograded test cell: ``name`` is its grade_id and the name of its hidden check."""

    name: str
    points: float
    answers: tuple = ()  # grade_ids of the answer cells this part grades
    depends: tuple = ()  # parts whose answers the student's code for this part calls


@dataclass(frozen=True)
class Assignment:
    name: str
    title: str
    checks: str  # module with one check function per part
    solutions: tuple = ()  # modules whose functions are the answer cells' source
    preload: tuple = ("numpy",)
    limits: dict = field(default_factory=dict)
    parts: dict = field(default_factory=dict)  # name -> Part, in notebook order
    written: dict = field(default_factory=dict)  # grade_id -> points, graded by hand
    chapter: str | None = None  # folder (relative to the repository) showing the exercise on the site
    mutants: str | None = None  # module with its plausible mistakes and fair alternatives (autograder/mutation.py)
    path: Path | None = None

    @property
    def auto_points(self):
        return sum(p.points for p in self.parts.values())

    @property
    def total_points(self):
        return self.auto_points + sum(self.written.values())

    @property
    def uses_torch(self):
        return "torch" in self.preload

    def checks_module(self):
        return importlib.import_module(self.checks)

    def solution_modules(self):
        return tuple(importlib.import_module(m) for m in self.solutions)

    def affected_by(self, part):
        """``part`` and every part that depends on it, directly or through others, in order."""
        hit = {part}
        for name, p in self.parts.items():  # parts come in notebook order: dependencies first
            if hit & set(p.depends):
                hit.add(name)
        return [name for name in self.parts if name in hit]


def _fail(path, message):
    raise ManifestError(f"{path}: {message}")


def load(path):
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        _fail(path, f"cannot be read ({exc})")
    unknown = set(data) - KNOWN_KEYS
    if unknown:
        _fail(path, f"unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(KNOWN_KEYS))}")
    for key in ("title", "checks"):
        if not isinstance(data.get(key), str):
            _fail(path, f"`{key}` must be a string")
    parts = {}
    for name, spec in data.get("parts", {}).items():
        if not isinstance(spec, dict) or set(spec) - PART_KEYS or "points" not in spec:
            _fail(path, f"[parts.{name}] needs `points` and may have only {', '.join(sorted(PART_KEYS))}")
        missing = [d for d in spec.get("depends", []) if d not in parts]
        if missing:
            _fail(path, f"[parts.{name}] depends on {', '.join(missing)}, which must be listed before it")
        parts[name] = Part(name, float(spec["points"]), tuple(spec.get("answers", ())), tuple(spec.get("depends", ())))
    if not parts:
        _fail(path, "no [parts.<grade_id>] table: an assignment needs at least one autograded part")
    written = {}
    for name, spec in data.get("written", {}).items():
        if not isinstance(spec, dict) or set(spec) != {"points"}:
            _fail(path, f"[written.{name}] needs exactly `points`")
        written[name] = float(spec["points"])
    return Assignment(
        name=path.stem, title=data["title"], checks=data["checks"], solutions=tuple(data.get("solutions", ())),
        preload=tuple(data.get("preload", ("numpy",))), limits=dict(data.get("limits", {})), parts=parts,
        written=written, chapter=data.get("chapter"), mutants=data.get("mutants"), path=path)
