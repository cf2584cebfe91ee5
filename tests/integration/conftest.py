"""Fixtures for the tests through the real chain."""

import pytest


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """On the shared 2-core box torch's two intra-op threads make each embedding ~15x slower
    (measured: 365-400 ms vs 21-26 ms per query under load); results are the same."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
