"""Shared set-up of the model tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_cpu_thread() -> Iterator[None]:
    """Run each test on one intra-op thread (restored afterwards).

    The tensors here are tiny: a second thread buys nothing, and on a busy 2-core machine its
    spin-waiting makes the folder several times slower.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
