"""Command line: python -m autograder [--course DIR] [--db-url URL] <command> ...

Commands: release, collect, autograde, feedback, grades, mutants, sync. See README, "Instructor guide".
"""
import argparse
import sys

from autograder.course import DEFAULT_ROOT, LMS_PATTERN, Course


def _assignments(course, name):
    names = course.assignments()
    if name:
        if name not in names:
            raise SystemExit(f"unknown assignment {name!r}; the course has: {', '.join(names)}")
        return [name]
    return names


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--course", default=str(DEFAULT_ROOT), help="nbgrader course root (default: autograder/)")
    parser.add_argument("--db-url", default=None, help="gradebook URL (default: sqlite:///<course>/gradebook.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("release", help="generate student notebooks (all assignments if none named)")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--site", action="store_true", help="release into the book's chapter folders instead")
    p = sub.add_parser("collect", help="copy submissions from a folder or an LMS zip into submitted/")
    p.add_argument("assignment")
    p.add_argument("source")
    p.add_argument("--pattern", default=None, help=f"file-name regex with (?P<student>) for LMS files (zip default: {LMS_PATTERN})")
    p = sub.add_parser("autograde", help="grade every submission of an assignment")
    p.add_argument("assignment")
    p.add_argument("--submissions", help="collect from this folder or zip first")
    p.add_argument("--jobs", type=int, default=None, help="parallel workers (default: one per core)")
    p.add_argument("--student", action="append", help="grade only this student (repeatable)")
    p.add_argument("--shard", default=None, metavar="i/N",
                   help="grade only shard i of N (0-based; students split by a hash of their id): "
                        "collect and release once first (README, 'Grading at scale')")
    p = sub.add_parser("feedback", help="write feedback HTML for every autograded submission")
    p.add_argument("assignment", nargs="?")
    p = sub.add_parser("grades", help="export the grades CSV (score and status per submission)")
    p.add_argument("--out", default=None, help="CSV path (default: <course>/grades.csv)")
    p = sub.add_parser("mutants", help="grade each assignment's plausible mistakes and fair alternatives (the gate)")
    p.add_argument("assignment", nargs="?")
    p.add_argument("--jobs", type=int, default=None, help="parallel workers (default: one per core)")
    p = sub.add_parser("sync", help="check the instructor notebooks against solutions/ (--write to fix)")
    p.add_argument("--write", action="store_true")
    args = parser.parse_args(argv)
    course = Course(args.course, args.db_url)

    if args.command == "release":
        from autograder.course import release, release_for_site

        if args.site:
            release_for_site(_assignments(Course(), args.assignment))
        else:
            release(course, _assignments(course, args.assignment))
    elif args.command == "collect":
        from autograder.course import collect

        _assignments(course, args.assignment)
        for student, note in collect(course, args.assignment, args.source, args.pattern):
            print(f"collected {student}" + (f": {note}" if note else ""))
    elif args.command == "autograde":
        from autograder.autograde import autograde
        from autograder.course import collect

        _assignments(course, args.assignment)
        shard = None
        if args.shard:
            from autograder.shard import ShardSpecError, parse

            try:
                shard = parse(args.shard)
            except ShardSpecError as exc:
                raise SystemExit(str(exc))
            if args.submissions:
                raise SystemExit("--shard grades what is already collected: collect once, before the shards "
                                 "(make collect), then run every shard without SUBMISSIONS")
        if args.submissions:
            report = collect(course, args.assignment, args.submissions)
            print(f"collected {len(report)} submission(s) from {args.submissions}")
            for student, note in report:
                if note:
                    print(f"  {student}: {note}")
        autograde(course, args.assignment, args.jobs, students=args.student, shard=shard)
    elif args.command == "feedback":
        from autograder.feedback import write_feedback

        for assignment in _assignments(course, args.assignment):
            written = write_feedback(course, assignment)
            print(f"wrote {len(written)} feedback file(s) for {assignment} in {course.path('feedback')}")
    elif args.command == "grades":
        from autograder.grades import export_grades

        out = args.out or str(course.path("grades.csv"))
        rows = export_grades(course, out)
        print(f"wrote {len(rows)} row(s) to {out}")
    elif args.command == "mutants":
        import os

        from autograder.mutation import print_table, run_gate

        failed = False
        for assignment in _assignments(course, args.assignment):
            if not course.assignment(assignment).mutants:
                print(f"{assignment}: no list of mutants in its manifest")
                continue
            rows = run_gate(assignment, course, args.jobs or os.cpu_count() or 1)
            failed |= bool(print_table(assignment, rows))
        return 1 if failed else 0
    elif args.command == "sync":
        from autograder.sync import sync

        drifted = False
        for assignment in course.assignments():
            drift = sync(course.source_notebook(assignment), course.assignment(assignment), write=args.write)
            for grade_id in drift:
                drifted = True
                print(f"{assignment}: cell {grade_id} {'rewritten from' if args.write else 'differs from'} solutions/ or the manifest")
        if drifted and not args.write:
            print("run `python -m autograder sync --write` to copy solutions/ into the notebooks")
            return 1
        print("instructor notebooks match solutions/" if not drifted or args.write else "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
