"""Bundled backend `sasrec`: self-attentive sequential recommendation (Kang & McAuley, 2018)."""

from recaug_core import hookimpl


@hookimpl
def register_backends(register):
    from recaug_sasrec.backend import SasrecBackend

    register(SasrecBackend)
