"""Stage *sandbox*: the jail every grading kernel runs in, :mod:`gdcourse.sandbox` under this name.

The implementation stays at ``gdcourse/sandbox.py``: it mounts the folder it sits in as the
package the kernel may import, so it must sit at the top of ``gdcourse``. Importing this module
gives that module itself.
"""

import sys

from gdcourse import sandbox as _sandbox

sys.modules[__name__] = _sandbox
