"""Other libraries' progress bars kept out of recaug's output.

transformers draws its own bars while it loads a model ("Loading weights", downloads through
huggingface_hub); in a log each is a stream of ``\\r`` frames, and on a terminal it interleaves
with recaug's bar, which already says what runs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def transformers_bars_off() -> Iterator[None]:
    """transformers' (and huggingface_hub's) progress bars off inside the block, restored after
    it: a notebook that wants them elsewhere keeps them."""
    from transformers.utils import logging

    was_on = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_on:
            logging.enable_progress_bar()
