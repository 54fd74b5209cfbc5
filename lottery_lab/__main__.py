"""``python -m lottery_lab …`` is ``lottery-lab …``, so ``torchrun -m lottery_lab run …`` can launch it."""

import sys

from lottery_lab.cli import main

sys.exit(main())
