"""A progress bar for the grading run: redrawn in place on a terminal, every tenth in a log."""
import sys
import time

BAR_WIDTH = 30


class Progress:
    def __init__(self, total, label, stream=sys.stderr):
        self.total, self.label, self.stream, self.done = total, label, stream, 0
        self.start = time.monotonic()
        self.tty = stream.isatty()
        self.last_tenth = -1

    def step(self):
        self.done += 1
        if self.tty:
            end = "\n" if self.done == self.total else ""
            print("\r" + self.line(), end=end, file=self.stream, flush=True)
            return
        # a log file gets one line per tenth of the run, not one per submission
        tenth = 10 * self.done // max(self.total, 1)
        if tenth != self.last_tenth:
            self.last_tenth = tenth
            print(self.line(), file=self.stream, flush=True)

    def line(self):
        elapsed = time.monotonic() - self.start
        eta = elapsed / self.done * (self.total - self.done)
        filled = int(BAR_WIDTH * self.done / max(self.total, 1))
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        return f"{self.label} [{bar}] {self.done}/{self.total} {elapsed:5.1f}s elapsed, ETA {eta:4.0f}s"
