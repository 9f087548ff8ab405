"""The outcome of grading one submission: one declared shape, written as result.json.

The scores in a Result are what the autograder found. The gradebook is the truth for what a
student finally gets (an instructor may override a part in formgrader), so the CSV and the
feedback page read scores from the gradebook and take messages, status and notes from here.
"""
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.received import DETAIL_CHARS, MAX_NOTES, MESSAGE_CHARS, NOTE_CHARS, TRACE_CHARS, cap

# What a status means, most severe first; a submission's status is its most severe event.
STATUSES = ["unreadable", "grader error", "crashed", "out of memory", "timed out", "tampered", "graded"]


@dataclass
class PartResult:
    title: str
    points: float
    score: float = 0.0
    message: str = ""

    @property
    def passed(self):
        return self.score == self.points


@dataclass
class Result:
    assignment: str
    student: str
    status: str = "graded"
    detail: str = ""  # for the instructor: reasons, grader errors, cells that failed
    parts: dict = field(default_factory=dict)  # grade_id -> PartResult, autograded parts in order
    manual: dict = field(default_factory=dict)  # grade_id -> points of written answers
    notes: list = field(default_factory=list)  # for the student: what collecting and assembling noticed
    events: list = field(default_factory=list)
    seconds: float = 0.0
    trace: str = ""  # the grader's own traceback, when it failed

    @property
    def score(self):
        return sum(p.score for p in self.parts.values())

    @property
    def max_score(self):
        return sum(p.points for p in self.parts.values()) + sum(self.manual.values())

    def to_dict(self):
        data = asdict(self)
        data.update(score=self.score, max_score=self.max_score)
        return data

    @classmethod
    def from_dict(cls, data):
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        data["parts"] = {g: PartResult(**p) for g, p in data.get("parts", {}).items()}
        return cls(**data)

    def make_safe(self):
        """Cap and clean, in place, every text that may quote the student (autograder/received.py):
        what is written to result.json is what the gradebook, the CSV and the feedback page get."""
        for part in self.parts.values():
            part.title, part.message = cap(part.title, 200), cap(part.message, MESSAGE_CHARS)
        if len(self.notes) > MAX_NOTES:  # the last note (e.g. that the grader failed) stays
            self.notes = self.notes[:MAX_NOTES - 2] + [f"({len(self.notes) - MAX_NOTES + 1} more notes not shown)",
                                                       self.notes[-1]]
        self.notes = [cap(note, NOTE_CHARS) for note in self.notes]
        self.detail, self.trace = cap(self.detail, DETAIL_CHARS), cap(self.trace, TRACE_CHARS)
        self.events = [cap(event, 100) for event in self.events]
        return self

    def write(self, path):
        self.make_safe()
        Path(path).write_text(json.dumps(self.to_dict(), indent=1, ensure_ascii=True))

    @classmethod
    def read(cls, path):
        return cls.from_dict(json.loads(Path(path).read_text()))
