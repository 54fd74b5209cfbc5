"""Root pytest configuration: every test and notebook runs in quick mode unless told otherwise.

Tests run torch single-threaded: CI runs two pytest workers on two cores, and tiny tensors gain
nothing from intra-op threads while two workers' thread pools fight over the cores.

Notebooks (nbmake, tests/test_assignments.py) are executed by nbclient inside each pytest worker
process; ``lottery_lab._nbexec.install()`` keeps a cell's reply from waiting for the cell timeout when
an explorer draws into an ``Output`` widget (see that module).
"""

import os

os.environ.setdefault("LOTTERY_LAB_QUICK", "1")
# two pytest workers on two cores: one BLAS/OpenMP thread each (notebook kernels inherit this too)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")


def pytest_configure(config):
    import torch

    from lottery_lab import _nbexec

    _nbexec.install()

    torch.set_num_threads(1)

# the assignment notebooks are executed by tests/test_assignments.py, which also checks their outputs
collect_ignore_glob = ["notebooks/assignments/*.ipynb"]
