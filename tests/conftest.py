"""Test-session settings."""

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def single_torch_thread():
    """The test models are tiny: one intra-op thread is as fast and immune to CPU oversubscription."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
