"""lora-gen keeps every promise of a recaug strategy."""

from __future__ import annotations

from lora_fast import FAST

from recaug_core.testing import StrategyContract


class TestLoraGenContract(StrategyContract):
    component_name = "lora-gen"
    options = FAST
