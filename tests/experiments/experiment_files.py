"""Small experiment files for the tests (a module name no other test folder uses)."""

from __future__ import annotations

# A small demo world and the `pop` backend keep a whole experiment to about a second.
HEADER = """\
seeds = [0, 1]
ks = [10, 20]

[dataset]
ref = "demo"
options = { users = 120, items = 60, interactions = 1500 }

[[backends]]
name = "pop"
"""


def arm(name: str, strategy: str, **fields: object) -> str:
    """One [[arms]] table; values are written as TOML literals (strings quoted)."""
    lines = ["", "[[arms]]", f'name = "{name}"', f'strategy = "{strategy}"']
    for key, value in fields.items():
        lines.append(f"{key} = {value}")
    return "\n".join(lines) + "\n"
