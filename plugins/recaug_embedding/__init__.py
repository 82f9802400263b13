"""Bundled `embedding` backend: BPR matrix factorisation and LightGCN, trained with Accelerate.

Only the hook lives here: torch is imported when a model is fitted, never at plugin load.
"""

from recaug_core import hookimpl


@hookimpl
def register_backends(register):
    from recaug_embedding.backend import EmbeddingBackend

    register(EmbeddingBackend)
