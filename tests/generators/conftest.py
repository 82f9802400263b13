"""One torch thread per test process: the models here are tiny, and on a shared 2-core
machine thread hand-offs cost more than the arithmetic."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    import torch

    torch.set_num_threads(1)
