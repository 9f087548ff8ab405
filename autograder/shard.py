"""Shards: N grading jobs (on N machines) each take a disjoint slice of the students.

A student belongs to shard ``int(sha256(id)) mod N`` (shards numbered 0 .. N-1). A hash rather than
a position in the sorted list of students: a student's shard depends on their id and N only, not on
who else was collected, so a shard rerun after a late submission was collected (or on a machine
whose view of the shared folder is a little behind) still grades exactly the same students as
before and never touches another shard's. SHA-256 rather than Python's hash(), which is salted per
process. Slices are balanced only on average (binomial: for 5,000 students on 8 shards, about 625
each, give or take 25).
"""
import hashlib
import re

SPEC = re.compile(r"^(\d+)/(\d+)$")


class ShardSpecError(ValueError):
    pass


def parse(spec):
    """'i/N' -> (i, N), 0 <= i < N."""
    match = SPEC.match(spec.strip()) if spec else None
    if not match:
        raise ShardSpecError(f"a shard is written i/N with 0 <= i < N (e.g. 0/4), not {spec!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or index >= count:
        raise ShardSpecError(f"shard {spec}: the index must be 0 .. {max(count - 1, 0)} and N at least 1")
    return index, count


def shard_of(student, count):
    """The shard (0 .. count-1) that grades ``student``."""
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def select(students, index, count):
    """The students of shard ``index`` of ``count``, in their given order."""
    return [s for s in students if shard_of(s, count) == index]
