"""The VQ family and the token prior: closed forms, the estimator's gradients, codebook health, training."""
import math

import pytest
import torch

from playground import data, prior, vq
from playground.train import train


def tiny(**kw) -> vq.VQSpec:
    base = dict(codebook_size=8, code_dim=4, width=8, image_size=8, downsample=2, dataset="digits", batch_size=32)
    return vq.VQSpec(**{**base, **kw})


def test_quantisation_returns_the_nearest_code():
    model = tiny().build().eval()
    codebook = torch.randn(8, 4, generator=torch.Generator().manual_seed(0))
    model.quantizer.codebook.data.copy_(codebook)
    z_e = torch.randn(3, 4, 4, 4, generator=torch.Generator().manual_seed(1))
    out = model.quantize(z_e)
    flat = z_e.permute(0, 2, 3, 1).reshape(-1, 4)
    brute = torch.stack([((codebook - z) ** 2).sum(1).argmin() for z in flat])  # by hand, one vector at a time
    assert torch.equal(out["indices"].flatten(), brute)
    assert torch.allclose(out["z_q"].permute(0, 2, 3, 1).reshape(-1, 4), codebook[brute])


def test_straight_through_passes_the_decoders_gradient_to_the_encoder():
    model = tiny(ema=False, restart=False).build()
    x = data.load("digits", "train", n=16).x
    loss, _ = tiny(ema=False, restart=False).loss(model, x, None, torch.Generator().manual_seed(0))
    loss.backward()
    first = model.encoder[0].weight.grad
    assert first is not None and first.abs().sum() > 0
    # the gradient reaching z_e is exactly the gradient at z_q (plus the commitment term's own)
    z_e = torch.randn(2, 4, 4, 4, requires_grad=True)
    z_q = model.quantize(z_e)["z_q"]
    weights = torch.randn_like(z_q)
    (z_q * weights).sum().backward()
    assert torch.allclose(z_e.grad, weights)


def test_plain_codebook_learns_by_the_codebook_loss_and_ema_without_it():
    plain = tiny(ema=False, restart=False).build()
    z_e = torch.randn(2, 4, 4, 4, requires_grad=True)
    plain.quantize(z_e)["loss"].backward()
    assert plain.quantizer.codebook.grad is not None and plain.quantizer.codebook.grad.abs().sum() > 0
    ema = tiny(ema=True, restart=False).build()
    assert not ema.quantizer.codebook.requires_grad


def test_ema_update_moves_a_code_to_the_mean_of_its_vectors():
    spec = tiny(codebook_size=2, code_dim=2, ema=True, restart=False, ema_gamma=0.0)
    q = vq.VectorQuantizer(spec)
    q.codebook.data = torch.tensor([[0.0, 0.0], [10.0, 10.0]])
    q.ema_sum.copy_(q.codebook.data)
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0], [9.0, 9.0], [11.0, 11.0]])  # two near each code
    q.train()(z.T.reshape(1, 2, 4, 1))  # (B, D, H, W) = (1, 2, 4, 1)
    assert torch.allclose(q.codebook, torch.tensor([[0.5, 0.5], [10.0, 10.0]]), atol=1e-3)


def test_perplexity_is_k_for_uniform_use_and_1_for_one_code():
    assert vq.perplexity(torch.full((64,), 10.0)) == pytest.approx(64)
    assert vq.perplexity(torch.tensor([0.0, 50.0, 0.0, 0.0])) == pytest.approx(1.0)
    assert vq.perplexity(torch.tensor([1.0, 1.0, 0.0, 0.0])) == pytest.approx(2.0)


def test_a_dead_code_restart_revives_unused_codes():
    spec = tiny(codebook_size=8, code_dim=2, ema=False, restart=True, restart_below=0.5)
    q = vq.VectorQuantizer(spec).train()
    q.codebook.data = torch.zeros(8, 2)
    q.codebook.data[0] = torch.tensor([100.0, 100.0])  # far away: never the nearest code ...
    z = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    for _ in range(60):  # ... so its running usage decays below the threshold
        q(z)
    assert q.restarts > 0
    assert q.codebook[0].abs().max() < 10  # it now sits on a real z_e
    assert q.usage[0] > 0  # and it wins vectors again


def test_no_restart_leaves_a_dead_code_dead():
    spec = tiny(codebook_size=8, code_dim=2, ema=False, restart=False, restart_below=0.5)
    q = vq.VectorQuantizer(spec).train()
    q.codebook.data[0] = torch.tensor([100.0, 100.0])
    z = torch.randn(1, 2, 8, 8, generator=torch.Generator().manual_seed(0))
    for _ in range(60):
        q(z)
    assert torch.equal(q.codebook[0], torch.tensor([100.0, 100.0]))


def test_kmeans_init_sets_the_codebook_to_cluster_centres():
    spec = tiny(codebook_size=2, code_dim=2, kmeans_init=True, restart=False)
    q = vq.VectorQuantizer(spec).train()
    blobs = torch.cat([torch.randn(40, 2) * 0.01 + 5, torch.randn(40, 2) * 0.01 - 5])
    q(blobs.T.reshape(1, 2, 80, 1))
    centres = sorted(q.codebook[:, 0].tolist())
    assert centres[0] == pytest.approx(-5, abs=0.1) and centres[1] == pytest.approx(5, abs=0.1)


@pytest.mark.parametrize("quantizer", ["vq", "gumbel"])
def test_training_lowers_the_reconstruction_error(quantizer):
    spec = tiny(quantizer=quantizer, tau_steps=100)
    ds = data.load("digits", "train")
    _, history = train(spec, ds, 150, seed=0)
    first, last = sum(history["recon"][:10]) / 10, sum(history["recon"][-10:]) / 10
    assert last < 0.7 * first


def test_editing_a_token_changes_the_decode_and_only_near_it():
    spec = vq.VQSpec(codebook_size=16, code_dim=4, width=8)
    torch.manual_seed(0)
    model = spec.build().eval()
    model.quantizer.codebook.data = torch.randn(16, 4, generator=torch.Generator().manual_seed(0))
    x = data.load("fashion", "test", n=1).x
    t = vq.tokens(model, x)
    assert t.shape == (1, 7, 7) and t.dtype == torch.long
    new = int((t[0, 1, 1] + 5) % 16)
    edited = vq.edit_token(t, 1, 1, new, 16)
    assert edited[0, 1, 1] == new and int((edited != t).sum()) == 1 and t[0, 1, 1] != new
    before, after = vq.decode_tokens(model, t), vq.decode_tokens(model, edited)
    change = (after - before).abs()[0, 0]
    assert change[4:8, 4:8].max() > 1e-5  # the cell's own 4×4 pixels change ...
    assert change[20:, 20:].max() == 0  # ... the far corner not at all: beyond the decoder's receptive field


def test_bad_tokens_and_edits_are_refused_clearly():
    model = tiny().build()
    with pytest.raises(ValueError, match="4×4"):
        vq.decode_tokens(model, torch.zeros(1, 7, 7, dtype=torch.long))
    with pytest.raises(ValueError, match="from 0 to 7"):
        vq.decode_tokens(model, torch.full((1, 4, 4), 8))
    with pytest.raises(ValueError, match="whole numbers"):
        vq.decode_tokens(model, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="inside"):
        vq.edit_token(torch.zeros(4, 4, dtype=torch.long), 4, 0, 1, 8)
    with pytest.raises(ValueError, match="code must be"):
        vq.edit_token(torch.zeros(4, 4, dtype=torch.long), 0, 0, 8, 8)
    with pytest.raises(ValueError, match="expected images"):
        model.encode(torch.zeros(1, 1, 28, 28))
    with pytest.raises(ValueError, match="quantizer"):
        vq.VQSpec(quantizer="kmeans")
    with pytest.raises(ValueError, match="codebook_size"):
        vq.VQSpec(codebook_size=1)
    with pytest.raises(ValueError, match="downsample"):
        vq.VQSpec(downsample=3)


def test_usage_counts_every_token():
    model = tiny().build()
    x = data.load("digits", "test", n=20).x
    use = vq.usage(model, x)
    assert int(use["counts"].sum()) == 20 * 16
    assert use["dead_codes"] == int((use["counts"] == 0).sum())
    assert 1 <= use["perplexity"] <= 8


def test_gumbel_relaxation_sharpens_as_tau_falls():
    model = tiny(quantizer="gumbel").build().eval()
    logits = torch.randn(2, 8, 4, 4, generator=torch.Generator().manual_seed(0))
    q = model.quantizer
    hot = q.relaxed(logits, 0.01, noise=False)
    assert torch.allclose(hot.argmax(1), logits.argmax(1)) and hot.amax(1).mean() > 0.95
    warm = q.relaxed(logits, 100.0, noise=False)
    assert warm.amax(1).max() < 0.2  # near uniform over 8 codes
    with pytest.raises(ValueError, match="temperature"):
        vq.gumbel_decode(model, data.load("digits", "test", n=1).x, 0.0)


@pytest.mark.parametrize("dataset, image_size, downsample, ratio", [("digits", 8, 2, 0.25), ("fashion", 28, 4, 1.0)])
def test_the_loss_is_eq3_with_codebook_and_commitment_scaled_by_pixels_over_latents(dataset, image_size, downsample,
                                                                                     ratio):
    """Issue 18, item 9: the means make L·P = eq. 3's sums with the two VQ terms × P/Q (P pixels, Q = D·h·w)."""
    spec = tiny(ema=False, restart=False, code_dim=16, dataset=dataset, image_size=image_size, downsample=downsample)
    model = spec.build()
    x = data.load(dataset, "test", n=4).x
    with torch.no_grad():
        loss, _ = spec.loss(model, x, None, torch.Generator().manual_seed(0))
        z_e = model.encode(x)
        out = model.quantize(z_e)
        z_q, x_hat = model.quantizer.codebook[out["indices"]].permute(0, 3, 1, 2), model.decode(out["z_q"])
    pixels, latents = x[0].numel(), z_e[0].numel()
    assert pixels / latents == ratio
    per_example = lambda v: v.flatten(1).sum(1).mean()  # eq. 3's sums, averaged over the batch
    recon, vq_terms = per_example((x - x_hat) ** 2), per_example((z_e - z_q) ** 2)
    eq3 = recon + ratio * (1 + spec.commitment) * vq_terms  # codebook + β·commitment, both × P/Q
    assert float(loss) * pixels == pytest.approx(float(eq3), rel=1e-5)


def test_with_gumbel_noise_the_cold_limit_is_a_sample_not_the_argmax():
    """Issue 18, item 5: as τ → 0 with noise, softmax((logits + g)/τ) is one-hot at argmax(logits + g), which is
    distributed as softmax(logits) (Gumbel-max), not fixed at argmax(logits)."""
    q = tiny(quantizer="gumbel").build().eval().quantizer
    logits = torch.tensor([2.0, 1.0, 0.0, -1.0]).reshape(1, 4, 1, 1).expand(20000, 4, 1, 1)
    cold = q.relaxed(logits, 1e-3, torch.Generator().manual_seed(0))
    drawn = cold.argmax(1).flatten()
    assert cold.amax(1).mean() > 0.99  # one code each (bar near-ties of the noisy logits) ...
    frequency = torch.bincount(drawn, minlength=4).float() / len(drawn)
    assert torch.allclose(frequency, torch.softmax(logits[0, :, 0, 0], 0), atol=0.015)  # ... drawn from softmax
    assert (drawn != 0).float().mean() > 0.3  # not the argmax (code 0): 1 − softmax₀ = 36 % of draws
    model = tiny(quantizer="gumbel").build().eval()
    x = data.load("digits", "test", n=8).x
    assert torch.equal(vq.gumbel_max_tokens(model, x, noise=False), vq.tokens(model, x).cpu())
    same = vq.relaxation_sweep(model, x, [1e-6], seed=3)  # the same noise g for the mixture and the Gumbel-max codes
    cold = vq.gumbel_decode(model, x, 1e-6, torch.Generator().manual_seed(3))
    drawn = vq.decode_tokens(model, vq.gumbel_max_tokens(model, x, torch.Generator().manual_seed(3))).detach()
    assert (cold - drawn).abs().mean() < 1e-3 and same["relaxed"][0] == pytest.approx(same["gumbel_max"], rel=1e-2)
    assert 0 < same["differ"] < 1
    assert vq.relaxation_sweep(model, x, [1e-3], seed=3, noise=False)["differ"] == 0


def test_codebook_colours_are_similar_for_similar_codes():
    codebook = torch.tensor([[0.0, 0, 0, 0], [0.01, 0, 0, 0], [5.0, 5, 5, 5], [-5.0, 3, 0, 1]])
    colours = vq.codebook_colours(codebook).astype(int)
    assert colours.shape == (4, 3)
    assert abs(colours[0] - colours[1]).sum() < abs(colours[0] - colours[2]).sum()


# ---- the prior ---------------------------------------------------------------------------------------------

def tiny_prior(**kw) -> prior.TokenPriorSpec:
    return prior.TokenPriorSpec(**{**dict(codebook_size=8, grid=3, d_model=16, layers=1, heads=2, num_classes=2), **kw})


def test_the_prior_samples_valid_indices_in_the_right_shape():
    model = tiny_prior().build().eval()
    g = torch.Generator().manual_seed(0)
    t = prior.sample(model, 5, temperature=1.0, top_k=3, label=1, generator=g)
    assert t.shape == (5, 3, 3) and t.dtype == torch.long
    assert int(t.min()) >= 0 and int(t.max()) < 8
    steps = list(prior.sample_steps(model, 2, generator=torch.Generator().manual_seed(0)))
    assert len(steps) == 9
    assert (steps[3]["tokens"].flatten(1)[:, 4:] == -1).all() and (steps[3]["tokens"].flatten(1)[:, :4] >= 0).all()
    again = prior.sample(model, 5, top_k=3, label=1, generator=torch.Generator().manual_seed(0))
    assert torch.equal(t, again)  # a seed makes a sample reproducible


def test_the_prior_is_causal():
    model = tiny_prior().build().eval()
    t = torch.randint(0, 8, (1, 9), generator=torch.Generator().manual_seed(0))
    changed = t.clone()
    changed[0, 5] = (t[0, 5] + 1) % 8
    labels = torch.tensor([0])
    a, b = model(t, labels), model(changed, labels)
    assert torch.allclose(a[:, :6], b[:, :6], atol=1e-6)  # positions 0..5 only see tokens before t_5
    assert not torch.allclose(a[:, 6:], b[:, 6:])


def test_top_k_and_temperature():
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0]])
    p = prior.next_token_probs(logits, 1.0, 2)
    assert p[0, 2:].sum() == 0 and p.sum() == pytest.approx(1)
    assert p[0, 0] / p[0, 1] == pytest.approx(math.e)
    cold = prior.next_token_probs(logits, 0.1, 0)
    assert cold[0, 0] > 0.99
    for bad, match in ((dict(temperature=0.0), "temperature"), (dict(top_k=-1), "top-k")):
        with pytest.raises(ValueError, match=match):
            prior.next_token_probs(logits, **{**dict(temperature=1.0, top_k=0), **bad})
    with pytest.raises(ValueError, match="class"):
        prior.sample(tiny_prior().build(), 1, label=5)


def test_the_prior_learns_a_fixed_sequence():
    spec = tiny_prior()
    model = spec.build()
    target = torch.arange(9).remainder(8)[None].repeat(32, 1)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    labels = torch.zeros(32, dtype=torch.long)
    first = None
    for _ in range(60):
        loss = torch.nn.functional.cross_entropy(model(target, labels).transpose(1, 2), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.2 * first
    assert prior.nll(model, target.view(32, 3, 3), labels) == pytest.approx(loss.item(), rel=0.3)


def test_the_nearest_code_plane_pairs_each_z_e_with_its_nearest_code():
    model = tiny().build().eval()
    x = data.load("digits", "test", n=3).x
    plane = vq.nearest_code_plane(model, x)
    assert plane["z"].shape == (3 * 16, 2) and plane["codes"].shape == (8, 2) and 0 < plane["explained"] <= 1
    assert (plane["index"] == vq.tokens(model, x).flatten().numpy()).all()  # the codes the quantiser picks
    flat = vq.nearest_code_plane(tiny(code_dim=1).build().eval(), x)  # D = 1: its own axis, and a zero one
    assert flat["explained"] == 1.0 and (flat["z"][:, 1] == 0).all()


def test_decode_edit_counts_the_changed_cells_and_decodes_both_grids():
    model = tiny().build().eval()
    x = data.load("digits", "test", n=1).x[0]
    t = vq.tokens(model, x[None])[0]
    out = vq.decode_edit(model, x, t, vq.edit_token(t, 0, 0, int(t[0, 0] + 1) % 8, 8))
    assert out["changed"] == 1 and out["recon"].shape == x.shape
    assert torch.allclose(out["recon"], vq.reconstruct(model, x[None])[0], atol=1e-5)
    assert out["mse"] == pytest.approx(vq.mse(out["recon"], x))


def test_the_relaxation_at_a_tiny_tau_is_the_argmax():
    model = tiny(quantizer="gumbel").build().eval()
    sweep = vq.relaxation_sweep(model, data.load("digits", "test", n=8).x, [1e-3, 100.0], noise=False)
    assert sweep["relaxed"][0] == pytest.approx(sweep["argmax"], rel=1e-3)


def test_filling_a_grid_token_by_token_decodes_each_step_on_the_cpu():
    tokenizer = tiny(codebook_size=8, image_size=12, downsample=4).build().eval()  # a 3×3 token grid
    model = tiny_prior().build().eval()
    frames = list(prior.fill_steps(model, tokenizer, top_k=3, label=1, generator=torch.Generator().manual_seed(0),
                                   blank=2))
    assert len(frames) == 9 and (frames[0]["tokens"] >= 0).sum() == 1 and frames[0]["image"].shape == (1, 12, 12)
    assert all(f["image"].device.type == "cpu" and 0 < f["p"] <= 1 for f in frames)
    assert all(sum(q > 0 for _, q in f["top"]) == 3 for f in frames)  # top-k = 3: three candidates
    again = prior.sample(model, 1, top_k=3, label=1, generator=torch.Generator().manual_seed(0))[0]
    assert (frames[-1]["tokens"] == again.numpy()).all()  # the same draws as sample()
