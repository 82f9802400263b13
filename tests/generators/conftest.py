"""One torch thread while these tests run: the models here are tiny, and on a shared 2-core
machine thread hand-offs cost more than the arithmetic. Restored afterwards, so other test
folders keep torch's default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
