"""The reassociated attention orders (few keys / few queries) against the textbook formula, computed in numpy.

Expected values: softmax((x Wq^T + bq)_h (c Wk^T)_h^T / sqrt(d)) (c Wv^T + bv)_h, heads merged, then the output
projection, written out in float64 numpy here; gradients are checked against the plain order (SDPA), a separate
implementation.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from avfmae.models.layers import CrossAttention
from avfmae.models.lg_encoder import LGBlock

C, H = 64, 4


def _attention(seed: int = 0) -> CrossAttention:
    torch.manual_seed(seed)
    attn = CrossAttention(C, H)
    for p in attn.parameters():
        torch.nn.init.normal_(p, std=0.2)
    return attn


def _numpy_reference(attn: CrossAttention, x: torch.Tensor, ctx: torch.Tensor) -> np.ndarray:
    w = {k: v.detach().double().numpy() for k, v in attn.state_dict().items()}
    x, ctx = x.double().numpy(), ctx.double().numpy()
    d = C // H
    q = x @ w["q.weight"].T + w["q_bias"]
    kv = ctx @ w["kv.weight"].T
    k, v = kv[..., :C], kv[..., C:] + w["v_bias"]
    out = np.empty_like(q)
    for h in range(H):
        s = slice(h * d, (h + 1) * d)
        scores = q[..., s] @ np.swapaxes(k[..., s], -1, -2) / np.sqrt(d)
        p = np.exp(scores - scores.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        out[..., s] = p @ v[..., s]
    return out @ w["proj.weight"].T + w["proj.bias"]


@pytest.mark.parametrize("order", ["plain", "few-keys", "few-queries"])
@pytest.mark.parametrize("n_queries,n_keys", [(40, 3), (3, 40), (7, 7)])
def test_each_order_equals_the_textbook_formula(order, n_queries, n_keys):
    attn = _attention()
    g = torch.Generator().manual_seed(1)
    x, ctx = torch.randn(2, n_queries, C, generator=g), torch.randn(2, n_keys, C, generator=g)
    with torch.no_grad():
        got = attn(x, ctx, order=order).double().numpy()
    np.testing.assert_allclose(got, _numpy_reference(attn, x, ctx), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("order,n_queries,n_keys", [("few-keys", 40, 3), ("few-queries", 3, 40)])
def test_gradients_equal_the_plain_order(order, n_queries, n_keys):
    grads = {}
    for o in ("plain", order):
        attn = _attention()
        g = torch.Generator().manual_seed(2)
        x = torch.randn(2, n_queries, C, generator=g, requires_grad=True)
        ctx = torch.randn(2, n_keys, C, generator=g, requires_grad=True)
        (attn(x, ctx, order=o) * torch.linspace(-1, 1, C)).sum().backward()
        grads[o] = [x.grad, ctx.grad] + [p.grad for p in attn.parameters()]
    for a, b in zip(grads["plain"], grads[order]):
        torch.testing.assert_close(b, a, atol=2e-5, rtol=1e-4)


def test_plan_picks_the_cheapest_order():
    # hand counts for C=512, H=8 (multiply-adds per sample, in units of C):
    # 800 queries x 8 keys: plain 2*808*512 + 2*800*8 = 840,192; few-keys 4*8*512 + 2*800*64 = 118,784
    base = CrossAttention(512, 8)
    assert base.plan(800, 8) == "few-keys"
    assert base.plan(8, 800) == "few-queries"
    # 480 x 80 (the video decoder's skip attention at 6 heads, 384 wide): plain 2*560*384 + 2*480*80 = 506,880,
    # few-keys 4*80*384 + 2*480*480 = 583,680: plain stays
    assert CrossAttention(384, 6).plan(480, 80) == "plain"
    assert base.plan(100, 100) == "plain"


def test_attention_dropout_in_training_keeps_the_plain_order(monkeypatch):
    attn = CrossAttention(C, H, attn_drop=0.1).train()
    monkeypatch.setattr(CrossAttention, "_few_keys", lambda *a: pytest.fail("reassociated order used with dropout"))
    attn(torch.randn(1, 40, C), torch.randn(1, 3, C))


def test_last_block_regions_only_gives_the_full_blocks_region_tokens():
    torch.manual_seed(0)
    block = LGBlock(C, H).eval()
    for p in block.parameters():
        torch.nn.init.normal_(p, std=0.1)
    x = torch.randn(2 * 4, 1 + 9, C)                  # batch 2, 4 regions of 9 tokens
    with torch.no_grad():
        full = block(x, 2)
        regions = block(x, 2, regions_only=True)
    assert regions.shape == (8, 1, C)
    torch.testing.assert_close(regions[:, 0], full[:, 0], atol=1e-6, rtol=1e-6)
