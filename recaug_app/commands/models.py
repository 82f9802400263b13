"""`recaug models list|prepare`: the pretrained models that work offline.

The catalog and the conversion live in ``recaug_modelkit.pretrained`` (the library the model
plugins share); this module only parses the command line.
"""

from __future__ import annotations

import click

from recaug_app.commands.common import echo_json


def register(cli: click.Group) -> None:
    cli.add_command(models_group)


@click.group("models")
def models_group() -> None:
    """Pretrained models that work offline (shipped as PyPI packages)."""


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_models(as_json: bool) -> None:
    """Each known model: whether it is installed and prepared, where, and its licence."""
    from recaug_modelkit import pretrained

    rows = [pretrained.status(name) for name in pretrained.MODELS]
    if as_json:
        echo_json({"cache": str(pretrained.cache_root()), "models": rows})
        return
    click.echo(f"prepared models live in {pretrained.cache_root()} (RECAUG_CACHE overrides)")
    for row in rows:
        installed = (
            "installed" if row["installed"] else f"not installed (pip install '{row['install']}')"
        )
        prepared = row["prepared"]
        state = (
            "prepare: not needed"
            if prepared == "not needed"
            else f"prepared in {row['path']}"
            if prepared is True and row["path"]
            else "not prepared (recaug models prepare " + row["name"] + ")"
            if row["installed"]
            else ""
        )
        click.echo(f"{row['name']}: {row['what']}")
        click.echo(f"  {installed}{'; ' + state if state else ''}")
        click.echo(f"  licence: {row['licence']}")


@models_group.command("prepare")
@click.argument("name")
@click.option("--force", is_flag=True, help="Convert again even if already prepared.")
def prepare_model(name: str, force: bool) -> None:
    """Convert model NAME once into a Hugging Face folder in the cache (checksum verified)."""
    from recaug_modelkit import pretrained

    folder = pretrained.prepare(name, force=force)
    click.echo(str(folder))
