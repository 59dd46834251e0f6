"""``python -m tdfake.cli ...``: the ``tdfake`` command without the console script."""

import sys

from tdfake.cli import main

sys.exit(main())
