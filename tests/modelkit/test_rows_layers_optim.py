"""Sparse batches, candidate items, the catalog-sized layers and the lazy Adam: each agrees
with the dense computation it replaces."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from recaug_modelkit.layers import ItemsIn, ItemsOut
from recaug_modelkit.optim import LazyAdam, optimizers
from recaug_modelkit.rows import candidate_items, dense_rows, sparse_rows


def matrix(n_users: int = 40, n_items: int = 300, seed: int = 0) -> sp.csr_matrix:
    rng = np.random.default_rng(seed)
    dense = (rng.random((n_users, n_items)) < 0.03).astype(np.float32)
    dense[3] = 0  # an empty row
    return sp.csr_matrix(dense)


def test_sparse_rows_hold_the_same_rows_as_dense_ones():
    m = matrix()
    users = np.array([5, 3, 0, 17])
    rows = sparse_rows(m, users)
    assert torch.equal(rows.dense(), dense_rows(m, users))
    assert rows.lengths.tolist() == np.diff(m.indptr)[users].tolist()
    norms = torch.zeros(4).index_add_(0, rows.rows, rows.normalized_values().square())
    assert torch.allclose(norms[rows.lengths > 0], torch.ones(3))


def test_kept_entries_form_the_rows_without_the_others():
    m = matrix()
    rows = sparse_rows(m, np.arange(10))
    keep = torch.arange(len(rows.items)) % 2 == 0
    kept = rows.keep(keep)
    expected = rows.dense().clone()
    expected[rows.rows[~keep], rows.items[~keep]] = 0
    assert torch.equal(kept.dense(), expected)


def test_candidates_hold_the_batch_items_and_distinct_uniform_others():
    m = matrix(n_items=3000)
    rows = sparse_rows(m, np.arange(20))
    columns = candidate_items(rows, 200, torch.Generator().manual_seed(0))
    own = set(rows.items.tolist())
    items = columns.items.tolist()
    assert own <= set(items) and items == sorted(set(items))
    others = [i for i in items if i not in own]
    assert len(others) == 200
    weight = columns.log_weight
    assert weight is not None
    is_own = torch.tensor([i in own for i in items])
    assert torch.all(weight[is_own] == 0)
    assert torch.allclose(weight[~is_own].exp(), torch.tensor((3000 - len(own)) / 200))
    dense = rows.dense(columns)
    assert torch.equal(dense, rows.dense()[:, columns.items])


def test_a_small_catalog_is_used_whole():
    rows = sparse_rows(matrix(n_items=300), np.arange(20))
    columns = candidate_items(rows, 2048, torch.Generator())
    assert columns.whole_catalog and torch.equal(columns.items, torch.arange(300))
    assert candidate_items(rows, 0, torch.Generator()).whole_catalog


def test_sampled_log_normaliser_is_unbiased_in_its_sum():
    """exp(logsumexp(logits + log_weight)) averages to the full sum over the catalog."""
    torch.manual_seed(0)
    m = matrix(n_users=8, n_items=4000)
    rows = sparse_rows(m, np.arange(8))
    logits = torch.randn(8, 4000)
    exact = torch.logsumexp(logits, dim=1).exp()
    gen = torch.Generator().manual_seed(1)
    estimates = []
    for _ in range(400):
        columns = candidate_items(rows, 300, gen)
        assert columns.log_weight is not None
        picked = logits[:, columns.items] + columns.log_weight
        estimates.append(torch.logsumexp(picked, dim=1).exp())
    mean = torch.stack(estimates).mean(0)
    assert torch.allclose(mean, exact, rtol=0.02)


def test_items_in_is_a_linear_layer_over_sparse_rows():
    m = matrix()
    layer = ItemsIn(300, 7)
    torch.nn.init.normal_(layer.bias)
    rows = sparse_rows(m, np.arange(12))
    dense = rows.dense()
    expected = dense @ layer.weight + layer.bias
    assert torch.allclose(layer(rows), expected, atol=1e-5)
    columns = candidate_items(rows, 0, torch.Generator())
    assert torch.allclose(layer.dense(dense, columns), expected, atol=1e-5)


def test_items_out_computes_the_asked_columns_of_the_full_output():
    layer = ItemsOut(6, 500)
    torch.nn.init.normal_(layer.weight)
    torch.nn.init.normal_(layer.bias)
    x = torch.randn(4, 6)
    rows = sparse_rows(matrix(n_items=500), np.arange(4))
    columns = candidate_items(rows, 50, torch.Generator().manual_seed(0))
    assert not columns.whole_catalog
    assert torch.allclose(layer(x, columns), layer(x)[:, columns.items], atol=1e-5)


@pytest.mark.parametrize("weight_decay", [0.0, 0.1])
def test_lazy_adam_is_adam_on_the_rows_a_step_touches(weight_decay: float):
    """With every row touched it is Adam; rows a step leaves alone do not move."""
    torch.manual_seed(0)
    lazy = torch.nn.Parameter(torch.randn(30, 4))
    plain = torch.nn.Parameter(lazy.detach().clone())
    lazy_opt = LazyAdam([lazy], lr=0.01, weight_decay=weight_decay)
    plain_opt = torch.optim.Adam([plain], lr=0.01, weight_decay=weight_decay)
    every = torch.arange(30)
    for _ in range(5):
        for param, opt, sparse in ((lazy, lazy_opt, True), (plain, plain_opt, False)):
            opt.zero_grad()
            torch.nn.functional.embedding(every, param, sparse=sparse).pow(3).sum().backward()
            opt.step()
    assert torch.allclose(lazy, plain, atol=1e-6)
    before = lazy.detach().clone()
    lazy_opt.zero_grad()
    torch.nn.functional.embedding(torch.tensor([2, 2, 5]), lazy, sparse=True).sum().backward()
    lazy_opt.step()
    moved = (lazy != before).any(dim=1)
    assert moved.nonzero().flatten().tolist() == [2, 5]


def test_item_tables_get_the_lazy_adam_and_the_rest_fused_adam():
    model = torch.nn.Sequential(ItemsIn(50, 4), torch.nn.Linear(4, 4), ItemsOut(4, 50))
    chosen = optimizers(model, 0.01)
    assert set(chosen) == {"adam", "lazy_adam"}
    tables = {id(p) for group in chosen["lazy_adam"].param_groups for p in group["params"]}
    assert tables == {id(model[0].weight), id(model[2].weight), id(model[2].bias)}
    assert chosen["adam"].defaults["fused"]
