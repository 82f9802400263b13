"""`demo`: the deterministic synthetic world of ``world``, sized by options."""

from __future__ import annotations

from pydantic import Field

from recaug_core import Dataset, DataSource, Options, RecaugError
from recaug_sources.world import demo_world


class DemoOptions(Options):
    users: int = Field(default=1000, ge=2, le=10_000_000, description="number of users")
    items: int = Field(default=500, ge=2, le=1024, description="number of items")
    interactions: int = Field(
        default=30_000, ge=1, le=100_000_000, description="approximate interaction count"
    )
    seed: int = Field(default=0, ge=0, description="seed of the synthetic world (not of the run)")


class DemoSource(DataSource):
    name = "demo"
    description = "A synthetic world (users with tastes, titled items, power-law popularity)."
    Options = DemoOptions
    options: DemoOptions

    @classmethod
    def can_load(cls, ref: str) -> bool:
        return ref == "demo"

    def load(self, ref: str) -> Dataset:
        if ref != "demo":
            raise RecaugError(
                f"{ref}: the demo source makes up its data and reads no file or folder; "
                "drop --source demo to read this, or pass demo as the data"
            )
        o = self.options
        return demo_world(o.users, o.items, o.interactions, seed=o.seed)
