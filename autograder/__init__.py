"""Instructor tooling for the course: release, collect, autograde, feedback, grades.

Run as ``python -m autograder <command>`` (the Makefile's instructor targets do this). The folder
of this package is also the nbgrader course root (nbgrader_config.py, source/, release/, ...).
"""
