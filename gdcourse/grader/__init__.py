"""Grading a class of notebooks, one module per stage of the pipeline.

=================  ==============================================================================
``collect``        find each student's notebook (folders, LMS zips), who is who, unmatched files
``execute``        run it in a fresh kernel (``ResilientExecute``, plugged into nbgrader)
``sandbox``        the kernel's jail: bubblewrap, no network, limits, reference withheld
``kernel_side``    the ONLY grading code that runs inside the student's kernel
``wire``           the plain data (JSON, ``.npy`` without pickle) crossing the trust boundary
``check``          the trust boundary: test cells run in the grader, calling into the kernel
``record``         scores into the nbgrader gradebook, grades.csv, report.json, notes
``lms``            grades out: overrides.csv applied, Canvas and Moodle imports, per question
``feedback``       one HTML page per notebook, in the grader's words
``salvage``        damaged notebooks: repaired and matched where possible, else explained
``release_record`` what was released (``exercises/releases.json``): tampering judged against it
``replay``         per-submission grading seeds, ``--replay STUDENT ASSIGNMENT``
``workers``        long-lived nbgrader processes grading notebooks side by side
``pipeline``       ``grade()`` and the command line (``python -m gdcourse.grade``)
=================  ==============================================================================

The trust boundary: the student's code runs only in the sandboxed kernel, and the kernel only
ever receives the name of a student function and plain inputs; the checks (expected values,
tolerances, seeds, the reference implementations) run in the grader's process
(:mod:`gdcourse.grader.check`). Importing this package imports nothing else: the kernel imports
:mod:`gdcourse.grader.kernel_side` through it.
"""
