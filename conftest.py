"""Root pytest configuration: every test and notebook runs in quick mode unless told otherwise."""

import os

os.environ.setdefault("LOTTERY_LAB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
