"""Bundled strategy `gan`: CFGAN (Chae et al., CIKM 2018), a GAN over users' purchase vectors.

Only the hook lives here: torch is imported when the model is fitted, never at plugin load.
"""

from recaug_core import hookimpl


@hookimpl
def register_strategies(register):
    from recaug_gan.strategy import GanStrategy

    register(GanStrategy)
