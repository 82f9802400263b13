"""`recaug plugins` and `recaug list KIND`."""

from __future__ import annotations

from typing import Any

import click

from recaug_app.commands.common import echo_json
from recaug_core.kinds import KINDS


def register(cli: click.Group) -> None:
    cli.add_command(plugins_command)
    cli.add_command(list_command)


@click.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def plugins_command(as_json: bool) -> None:
    """Installed plugins: version, hooks, what each provides, and any error."""
    from recaug_core.registry import get_registry, unknown_hooks_message

    infos = get_registry().plugin_infos()
    if as_json:
        echo_json([info.as_dict() for info in infos])
        return
    for info in infos:
        version = f" {info.version}" if info.version else ""
        dist = f" ({info.distribution})" if info.distribution else ""
        click.echo(f"{info.name}{version}{dist}")
        if info.hooks:
            click.echo(f"  hooks: {', '.join(info.hooks)}")
        for kind, names in sorted(info.provides.items()):
            click.echo(f"  {kind}: {', '.join(names)}")
        for override in info.overrides:
            click.echo(f"  OVERRIDES: {override}")
        if info.unknown_hooks:
            click.echo(f"  WARNING: {unknown_hooks_message(info.unknown_hooks)}")
        if info.error:
            click.echo(f"  ERROR: {info.error}")


@click.command("list")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.option(
    "--json", "as_json", is_flag=True, help="Machine-readable output with option schemas."
)
def list_command(kind: str, as_json: bool) -> None:
    """Registered components of one KIND with their descriptions and options."""
    from recaug_core.registry import get_registry

    table = get_registry().components(kind)
    rows: list[dict[str, Any]] = [
        {
            "name": name,
            "plugin": reg.plugin,
            "description": reg.cls.description,
            "options": reg.cls.options_schema(),
        }
        for name, reg in sorted(table.items())
    ]
    if as_json:
        echo_json(rows)
        return
    click.echo(f"{USAGE[kind]}\n")
    for row in rows:
        click.echo(f"{row['name']}  ({row['plugin']})  {row['description']}")
        fields = table[row["name"]].cls.Options.model_fields
        for key, info in fields.items():
            help_text = f"  {info.description}" if info.description else ""
            click.echo(f"    {_as_typed(key, info)}{help_text}")


# How options are written for each kind: the option lines below it read KEY=DEFAULT.
USAGE = {
    "sources": "options: recaug ... DATA --source NAME:KEY=VALUE,... or -s KEY=VALUE; "
    'experiment file: [dataset] source = "NAME", options = { KEY = VALUE }',
    "strategies": "options: recaug augment --strategy NAME:KEY=VALUE,... or -o KEY=VALUE; "
    'experiment file: strategy = "NAME", options = { KEY = VALUE }',
    "filters": "options: recaug augment --filter NAME:KEY=VALUE,...; "
    'experiment file: filters = ["NAME:KEY=VALUE,..."]',
    "backends": "options: recaug evaluate --backend NAME:KEY=VALUE,... or -o KEY=VALUE; "
    'experiment file: [[backends]] name = "NAME", options = { KEY = VALUE }',
}


def _as_typed(key: str, info: Any) -> str:
    """An option with its default as it is typed: ``ops=crop,mask``, ``check_parent=true``."""
    if info.is_required():
        return f"{key}  (required)"
    default = info.get_default(call_default_factory=True)
    if default is None:
        return f"{key}  (unset)"
    if isinstance(default, bool):
        return f"{key}={str(default).lower()}"
    if isinstance(default, (list, tuple)):
        return f"{key}={','.join(map(str, default))}" if default else f"{key}  (empty)"
    if isinstance(default, dict):
        pairs = ";".join(f"{k}={v}" for k, v in default.items())
        return f"{key}={pairs}" if pairs else f"{key}  (empty)"
    return f"{key}={default}" if default != "" else f"{key}=''"
