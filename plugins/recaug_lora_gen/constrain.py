"""Constrained decoding: a prefix trie over the items' token sequences, and a LogitsProcessor
that lets a sampled sequence spell only catalog items the row does not have yet.

Each row of a batch walks the trie as tokens arrive; a finished item is banned for that row
(so it is never repeated) and the walk restarts at the root. Banning is counted per trie node:
a child is allowed while some item below it is still unbanned, which costs one short numpy
comparison per step and row instead of a scan of the catalog.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import LogitsProcessor, TopKLogitsWarper, TopPLogitsWarper

ROOT = 0


class ItemTrie:
    """Token sequences of items (prefix-free: no item's sequence starts another's)."""

    def __init__(self, sequences: Sequence[Sequence[int]], items: Sequence[int]) -> None:
        children: list[dict[int, int]] = [{}]
        item_at = [-1]
        self.paths: dict[int, np.ndarray] = {}
        for item, tokens in zip(items, sequences, strict=True):
            node, path = ROOT, []
            for token in tokens:
                nxt = children[node].get(int(token))
                if nxt is None:
                    nxt = len(children)
                    children[node][int(token)] = nxt
                    children.append({})
                    item_at.append(-1)
                node = nxt
                path.append(node)
            if children[node] or item_at[node] >= 0:
                raise ValueError(f"item {item}: its tokens are a prefix of another item's")
            item_at[node] = item
            self.paths[item] = np.asarray(path, dtype=np.int64)
        for item, nodes in self.paths.items():
            if any(item_at[n] >= 0 for n in nodes[:-1]):
                raise ValueError(f"item {item}: another item's tokens are a prefix of its own")
        self.children = children
        self.item_at = np.asarray(item_at, dtype=np.int64)
        self.child_tokens = [np.fromiter(c.keys(), np.int64, len(c)) for c in children]
        self.child_nodes = [np.fromiter(c.values(), np.int64, len(c)) for c in children]
        self.count = np.zeros(len(children), dtype=np.int64)  # items below (and at) each node
        for nodes in self.paths.values():
            self.count[nodes] += 1
        self.count[ROOT] = len(self.paths)
        self.max_depth = max((len(p) for p in self.paths.values()), default=0)

    @property
    def n_nodes(self) -> int:
        return len(self.children)

    def step(self, node: int, token: int) -> int:
        """The node after ``token`` (-1 when ``token`` leaves the trie)."""
        return self.children[node].get(int(token), -1)

    def split(self, tokens: Sequence[int]) -> list[tuple[int, list[int]]]:
        """The items spelled by ``tokens`` from the root, with each item's token positions;
        stops at the first token outside the trie (EOS, padding)."""
        found: list[tuple[int, list[int]]] = []
        node, positions = ROOT, []
        for position, token in enumerate(tokens):
            node = self.step(node, token)
            if node < 0:
                break
            positions.append(position)
            if self.item_at[node] >= 0:
                found.append((int(self.item_at[node]), positions))
                node, positions = ROOT, []
        return found


class CatalogConstraint(LogitsProcessor):
    """Masks every token that would not continue an allowed item; after ``items_per_row``
    items (one count for all rows, or one per row), or when a row's allowed items run out,
    only EOS is allowed. ``enabled=False`` masks nothing (to measure what the mask costs).

    Sampling warpers (temperature, top-k, top-p) run here, after the mask, so they never
    keep only forbidden tokens; pass none of them to ``generate`` itself.
    """

    def __init__(
        self,
        trie: ItemTrie,
        banned: Sequence[Sequence[int]],
        items_per_row: int | Sequence[int],
        eos_token_id: int,
        *,
        temperature: float = 1.0,
        top_k: int = 0,
        top_p: float = 1.0,
        enabled: bool = True,
    ) -> None:
        self.trie = trie
        self.enabled = enabled
        counts = [items_per_row] * len(banned) if isinstance(items_per_row, int) else items_per_row
        self.per_row = np.asarray(counts, dtype=np.int64)
        self.eos = eos_token_id
        self.temperature = temperature
        self.warpers: list[LogitsProcessor] = []
        if top_k > 0:
            self.warpers.append(TopKLogitsWarper(top_k=top_k))
        if top_p < 1.0:
            self.warpers.append(TopPLogitsWarper(top_p=top_p))
        rows = len(banned)
        self.banned_count = np.zeros((rows, trie.n_nodes), dtype=np.int64)
        for row, items in enumerate(banned):
            paths = [trie.paths[i] for i in map(int, items) if i in trie.paths]
            if paths:  # histories run to hundreds of items: count them in one call
                np.add.at(self.banned_count[row], np.concatenate(paths), 1)
                self.banned_count[row, ROOT] += len(paths)
        self.node = np.zeros(rows, dtype=np.int64)
        self.done = np.zeros(rows, dtype=np.int64)
        self.stopped = np.zeros(rows, dtype=bool)
        self.start: int | None = None

    def _ban(self, row: int, item: int) -> None:
        path = self.trie.paths.get(item)
        if path is not None:
            self.banned_count[row, path] += 1
            self.banned_count[row, ROOT] += 1

    def advance(self, tokens: np.ndarray) -> None:
        """Walk each row's trie position forward by its newly chosen token."""
        for row, token in enumerate(tokens):
            if self.stopped[row]:
                continue
            node = self.trie.step(int(self.node[row]), int(token))
            if node < 0:  # EOS (the only other token the mask lets through)
                self.stopped[row] = True
                continue
            item = int(self.trie.item_at[node])
            if item >= 0:
                self._ban(row, item)
                self.done[row] += 1
                node = ROOT
            self.node[row] = node

    def _frontier(self) -> tuple[np.ndarray, np.ndarray, list[tuple[int, np.ndarray]], np.ndarray]:
        """What each row may choose next: (rows at the root, which of the root's children are
        open for each of them, (row, open tokens) for rows inside an item, rows that may only
        end). Rows between items all stand at the root: one vectorised step for all of them."""
        count = self.trie.count
        wanting = ~self.stopped & ((self.node != ROOT) | (self.done < self.per_row))
        at_root = np.flatnonzero(wanting & (self.node == ROOT))
        nodes = self.trie.child_nodes[ROOT]
        open_root = self.banned_count[np.ix_(at_root, nodes)] < count[nodes]
        wanting[at_root[~open_root.any(axis=1)]] = False  # nothing left for them: EOS
        inside = []
        for row in np.flatnonzero(wanting & (self.node != ROOT)):
            node = int(self.node[row])
            children = self.trie.child_nodes[node]
            inside.append(
                (
                    int(row),
                    self.trie.child_tokens[node][
                        self.banned_count[row, children] < count[children]
                    ],
                )
            )
        return at_root, open_root, inside, np.flatnonzero(~wanting)

    def allowed_tokens(self) -> list[np.ndarray]:
        """Per row, the token ids it may choose next (the trie's frontier, or EOS)."""
        at_root, open_root, inside, ending = self._frontier()
        allowed = [np.zeros(0, dtype=np.int64)] * len(self.node)
        root_tokens = self.trie.child_tokens[ROOT]
        for row, open_ in zip(at_root, open_root):
            allowed[row] = root_tokens[open_]
        for row, tokens in inside:
            allowed[row] = tokens
        for row in ending:
            allowed[row] = np.asarray([self.eos], dtype=np.int64)
        return allowed

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        if not self.enabled:
            return self._warp(input_ids, scores)
        if self.start is None:
            self.start = input_ids.shape[1]
        else:
            self.advance(input_ids[:, -1].cpu().numpy())
        at_root, open_root, inside, ending = self._frontier()
        allowed = np.zeros(scores.shape, dtype=bool)
        if len(at_root):
            allowed[np.ix_(at_root, self.trie.child_tokens[ROOT])] = open_root
        for row, tokens in inside:
            allowed[row, tokens] = True
        allowed[ending, self.eos] = True
        mask = torch.from_numpy(allowed).to(scores.device)
        return self._warp(input_ids, scores.masked_fill(~mask, -float("inf")))

    def _warp(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        if self.temperature != 1.0:
            scores = scores / self.temperature
        for warper in self.warpers:
            scores = warper(input_ids, scores)
        return scores
