"""One BLAS thread for the command-line tool, set before numpy and scipy load.

numpy and scipy each bring an OpenBLAS that starts a pool of worker threads when it loads,
one per core, which then spin waiting for work. walks does no large linear algebra (its
arrays are gathered and summed, never multiplied as matrices), so for a command the pool is
pure start-up cost: about 0.1 s of CPU time per run on two cores, and a slower start when the
machine is busy. The command-line tool imports this module first; a value the user set is
kept, and a process that has already loaded numpy is left as it is.
"""

from __future__ import annotations

import os
import sys

if "numpy" not in sys.modules:
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
