"""``python -m navai_adapters`` is the ``navai`` command."""

import sys

from navai_adapters.cli import main

sys.exit(main())
