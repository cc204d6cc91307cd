"""gdcourse: reference optimizers, toy losses, plots and grading helpers for the course-book."""

__version__ = "0.1.0"
