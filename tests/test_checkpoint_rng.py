"""Generator states in checkpoints: a restored state redraws the same numbers."""

from __future__ import annotations

import random

import numpy as np
import torch

from asr2emo.model.checkpoint import rng_state, set_rng_state


def draws():
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def test_restored_generators_redraw_the_same_numbers():
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    draws()
    state = rng_state()
    first = draws()
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)
    assert draws() != first
    set_rng_state(state)
    assert draws() == first
    # CUDA's state is kept when there is a GPU; a CPU-only machine stores None and skips it
    assert (state["cuda"] is None) == (not torch.cuda.is_available())
    set_rng_state({k: v for k, v in state.items() if k != "cuda"})  # older checkpoints
