# nbgrader configuration of the course. The folder holding this file is the course root
# (nbgrader's standard layout: source/, release/, submitted/, autograded/, feedback/).
# The gradebook URL is passed on the command line by `python -m autograder` (make DB_URL=...).
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "rnn-course"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# Plain `nbgrader autograde` (used by the benchmark) executes notebooks with these limits; our own
# grader (`make autograde`) reads its limits from the manifest (autograder/assignments/<name>.toml).
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True
c.LimitOutput.max_lines = 200
c.IgnorePattern.pattern = ".ipynb_checkpoints"
