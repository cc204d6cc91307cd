"""``python -m gdcourse.grade`` (``make grade``): grade a class. The code lives in :mod:`gdcourse.grader`.

This name stays for the command line and for older imports: importing it gives the module
:mod:`gdcourse.grader.pipeline` itself.
"""

import sys

from gdcourse.grader import pipeline as _pipeline

if __name__ == "__main__":
    raise SystemExit(_pipeline.main())
sys.modules[__name__] = _pipeline
