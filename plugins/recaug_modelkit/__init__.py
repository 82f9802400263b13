"""Support shared by the bundled model plugins (embedding, vae, gan, sasrec, seq).

Not a plugin: no entry point names it, so it provides no component; model plugins import it
as an ordinary library instead of importing one another. It holds:

- ``options``: option mixins with one meaning everywhere (``seed``, ``patience``, item text);
- ``early_stopping``: the epoch loop's bookkeeping (validation, best weights, patience,
  history, progress bar);
- ``checkpoints``: epoch checkpoints and fitted models as safetensors + JSON (``--resume``);
- ``rows``: user rows of a sparse matrix as dense torch batches;
- ``generation``: per-user item probabilities turned into synthetic rows (vae, gan);
- ``text``: sentence embeddings of item text, cached;
- ``quiet``: transformers' own progress bars off while a model loads.

It imports the core only through the public API of ``recaug_core``.
"""
