"""The grading sandbox under its former name: :mod:`gdcourse.grader.sandbox` itself.

The implementation lives in ``gdcourse/grader/sandbox.py``, beside the other stages of the
grading pipeline. Importing this module gives that module (older scripts and configurations
that say ``gdcourse.sandbox`` keep working).
"""

import sys

from gdcourse.grader import sandbox as _sandbox

sys.modules[__name__] = _sandbox
