"""Each assignment's plausible mistakes and fair alternatives, as real student code (autograder/mutation.py)."""
