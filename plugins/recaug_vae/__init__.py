"""Bundled `vae`: Mult-VAE (Liang et al. 2018) as an augmentation strategy and as a backend.

Only the hooks live here: torch is imported when a model is fitted, never at plugin load.
What it shares with `gan` (rows, checkpoints, generation) lives in ``recaug_modelkit``.
"""

from recaug_core import hookimpl


@hookimpl
def register_strategies(register):
    from recaug_vae.strategy import VaeStrategy

    register(VaeStrategy)


@hookimpl
def register_backends(register):
    from recaug_vae.backend import VaeBackend

    register(VaeBackend)
