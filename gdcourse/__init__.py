"""gdcourse: reference optimizers, toy losses, data, runs, plots and grading helpers for the
course-book *Gradient descent, step by step*.

Modules (import the ones you need; plotting and widgets load matplotlib/ipywidgets lazily):

- :mod:`gdcourse.optim`     optimizers with PyTorch's torch.optim semantics (pure init/step)
- :mod:`gdcourse.schedules` learning-rate schedules
- :mod:`gdcourse.losses`    toy losses with exact gradients
- :mod:`gdcourse.data`      seeded synthetic data and learning problems
- :mod:`gdcourse.run`       minimize(...) -> Trajectory, train(...) -> History
- :mod:`gdcourse.plots`     static figures and self-contained animations
- :mod:`gdcourse.widgets`   interactive explorers with static fallbacks
- :mod:`gdcourse.book`      helpers for the chapter notebooks (glue)
- :mod:`gdcourse.curvature` the Newton step and gradient descent's stability bound (chapter 3)
- :mod:`gdcourse.averaging` Polyak–Ruppert iterate averaging for SGD (chapter 4)
"""

from gdcourse import data, losses, optim, run, schedules

__all__ = ["data", "losses", "optim", "run", "schedules"]
__version__ = "0.1.0"
