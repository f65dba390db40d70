"""``python -m runtime.cli`` runs the ``kintsugi`` command."""

import sys

from runtime.cli import main

sys.exit(main())
