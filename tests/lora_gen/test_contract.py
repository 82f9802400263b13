"""lora-gen keeps every promise of a recaug strategy."""

from __future__ import annotations

from recaug_core.testing import StrategyContract


class TestLoraGenContract(StrategyContract):
    component_name = "lora-gen"
    # The `fast` fixture's options (a class attribute cannot take a fixture).
    options = {
        "tiny_hidden": 32,
        "pretrain_epochs": 1,
        "epochs": 1,
        "per_user": 3,
        "max_length": 64,
        "cuts_per_user": 2,
        "checkpoint_every": 0,
    }
