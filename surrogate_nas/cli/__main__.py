"""``python -m surrogate_nas.cli``: the same as the ``surrogate-nas`` command."""

import sys

from . import main

sys.exit(main())
