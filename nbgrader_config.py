"""nbgrader configuration for gdcourse (read by `nbgrader` run from the repository root).

solutions/<assignment>/<notebook>.ipynb   source notebooks (instructors)
exercises/<assignment>/<notebook>.ipynb   release notebooks (students), made by `make exercises`
grading/                                  submissions, autograded copies, feedback, gradebook
                                          (git-ignored: never commit student work or grades)

`python -m gdcourse.grade` sets the environment variables below; run by hand, nbgrader uses the
defaults (grading/, 30 s per cell, the notebook's own kernel).
"""

import os

from gdcourse.grader.execute import autograde_preprocessors
from gdcourse.release import generate_preprocessors

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

ROOT = os.path.dirname(os.path.abspath(__file__))
GRADING = os.environ.get("GDCOURSE_GRADING_DIR", os.path.join(ROOT, "grading"))

c.CourseDirectory.root = ROOT
c.CourseDirectory.course_id = "gdcourse"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "exercises"
c.CourseDirectory.submitted_directory = os.path.join(GRADING, "submitted")
c.CourseDirectory.autograded_directory = os.path.join(GRADING, "autograded")
c.CourseDirectory.feedback_directory = os.path.join(GRADING, "feedback")
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(GRADING, "gradebook.db")

# The stub students see in place of each solution.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"

# Releasing: nbgrader's own steps, then the "check all" cell that ends every student notebook
# (it reruns the visible tests of each question; not graded, ignored by the grader).
c.GenerateAssignment.preprocessors = generate_preprocessors()

# Grading: a per-cell time limit (an infinite loop costs that question, not the run); test cells a
# student deleted are put back from the gradebook (edited ones always are); a cell that kills or
# hangs the kernel is marked failed and the kernel restarted for the rest (ResilientExecute).
c.Execute.timeout = int(os.environ.get("GDCOURSE_CELL_TIMEOUT", "30"))
c.Execute.interrupt_on_timeout = True
c.OverwriteCells.add_missing_cells = True
c.Autograde.autograde_preprocessors = autograde_preprocessors()

# The kernel that runs submissions: a sandboxing kernelspec slots in here (gdcourse.grade --kernel).
if os.environ.get("GDCOURSE_GRADING_KERNEL"):
    c.Execute.kernel_name = os.environ["GDCOURSE_GRADING_KERNEL"]

# Sandboxed grading (gdcourse.grade's default, see gdcourse/grader/sandbox.py): the kernel has no network
# at all, so it talks to nbgrader over Unix sockets in a folder private to this nbgrader process.
if os.environ.get("GDCOURSE_SANDBOX"):
    from gdcourse.grader.sandbox import ipc_address

    c.KernelManager.transport = "ipc"
    c.KernelManager.ip = ipc_address()
