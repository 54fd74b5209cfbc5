"""``python -m lottery_lab.cli …``: the ``lottery-lab`` command."""

import sys

from lottery_lab.cli import main

sys.exit(main())
