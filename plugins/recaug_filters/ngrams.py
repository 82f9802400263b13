"""Word n-grams of many texts at once, as 64-bit keys (pyarrow tokenises, numpy hashes)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recaug_core import arrays

# Words are runs of letters and digits, compared lower-cased.
NON_WORD = r"[^\p{L}\p{N}]+"


def words(texts: pa.Array | pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """Every word of every text in order, and the index of the text it came from."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks else pa.array([], pa.string())
    lists = pc.split_pattern_regex(pc.utf8_lower(texts.fill_null("")), NON_WORD)
    flat = pc.list_flatten(lists)
    owner = np.asarray(pc.list_parent_indices(lists).to_numpy(), dtype=np.int64)
    nonempty = np.asarray(pc.not_equal(flat, "").to_numpy(zero_copy_only=False), dtype=bool)
    return flat.filter(pa.array(nonempty)), owner[nonempty]


def ngram_keys(codes: np.ndarray, owner: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Keys of every run of ``n`` consecutive words inside one text, and that text's index.

    ``codes`` are word ids shared by all texts compared; the key mixes each position with
    its own random odd multiplier (wrapping uint64), so word order matters.
    """
    if len(codes) < n:
        return np.zeros(0, np.uint64), np.zeros(0, np.int64)
    mix = np.random.default_rng(3).integers(1, 1 << 63, size=n, dtype=np.uint64) | np.uint64(1)
    starts = np.arange(len(codes) - n + 1)
    within = owner[starts] == owner[starts + n - 1]
    starts = starts[within]
    keys = np.zeros(len(starts), dtype=np.uint64)
    values = codes.astype(np.uint64) + np.uint64(1)
    for position in range(n):
        keys += values[starts + position] * mix[position]
    return keys, owner[starts]


def copied_texts(generated: pa.Array, reference: pa.Array, n: int) -> np.ndarray:
    """Whether each ``generated`` text shares a run of ``n`` words with any ``reference``."""
    gen_words, gen_owner = words(generated)
    ref_words, ref_owner = words(reference)
    # One dictionary over both sides, so equal words get equal codes.
    encoded = pc.dictionary_encode(pa.concat_arrays([gen_words, ref_words]))
    codes = np.asarray(encoded.indices.to_numpy(), dtype=np.int64)
    gen_keys, gen_text = ngram_keys(codes[: len(gen_words)], gen_owner, n)
    ref_keys, _ = ngram_keys(codes[len(gen_words) :], ref_owner, n)
    copied = np.zeros(len(generated), dtype=bool)
    copied[gen_text[arrays.isin(gen_keys, ref_keys)]] = True
    return copied
