"""Bundled backend `sasrec`: self-attentive sequential recommendation (Kang & McAuley, 2018)."""

from recaug_core import hookimpl


@hookimpl
def register_backends(register):  # type: ignore[no-untyped-def]
    from recaug_sasrec.backend import SasrecBackend

    register(SasrecBackend)
