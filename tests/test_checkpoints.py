"""Checkpoints: safetensors + JSON card round trips, every shipped checkpoint loads and samples,
the user's folder, and the command line (list, train, sample)."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from playground import latent, autoencoders, checkpoints, clip, data, prior, vq
from playground.autoencoders import AutoencoderSpec
from playground.__main__ import main
from playground.diffusion.ddpm import DiffusionSpec
from playground.diffusion import make_schedule
from playground.diffusion.samplers import sample
from playground.metrics import ClassifierSpec
from playground.nn import MLPConfig, UNet, UNetConfig
from playground.train import train

ASSETS = checkpoints.CHECKPOINTS.parent
SHIPPED = checkpoints.available()  # collected once; checkpoints written later are picked up by the next run


def tiny_specs():
    return {
        "mlp": DiffusionSpec(network="mlp", mlp=MLPConfig(hidden_dim=16, num_layers=2, num_classes=3), num_steps=50,
                             schedule="cosine", prediction="v", batch_size=16, ema_decay=0.9),
        "unet": DiffusionSpec(network="unet", num_steps=20, batch_size=8,
                              unet=UNetConfig(image_size=8, base_channels=8, num_res_blocks=1, channel_mults=(1, 2),
                                              num_classes=10)),
        "classifier": ClassifierSpec(in_channels=1, image_size=8, width=8, feature_dim=16, batch_size=16),
        "autoencoder": AutoencoderSpec(kind="vae", latent_dim=3, image_size=8, width=4, hidden=8, dataset="digits",
                                       batch_size=16),
        "vq": vq.VQSpec(codebook_size=8, code_dim=4, width=4, image_size=8, downsample=2, dataset="digits",
                        batch_size=16, kmeans_init=True),
    }


def probe(spec):
    """A fixed input for each family, and the call that gives its output."""
    g = torch.Generator().manual_seed(0)
    if spec.family in ("classifier", "autoencoder", "vq"):
        x = torch.randn(3, 1, 8, 8, generator=g)
        return lambda model: model(x)
    shape = (3, 2) if spec.network == "mlp" else (3, 1, 8, 8)
    x, t, y = torch.randn(shape, generator=g), torch.tensor([0, 7, 19]), torch.tensor([0, 1, 2])
    return lambda model: model(x, t, y)


@pytest.mark.parametrize("kind", ["mlp", "unet", "classifier", "autoencoder", "vq"])
def test_save_load_round_trip(tmp_path, kind):
    spec = tiny_specs()[kind]
    dataset = data.load("moons", n=64) if kind == "mlp" else data.load("digits", n=64)
    if kind == "mlp":
        dataset.y = dataset.y % 3
    model, _ = train(spec, dataset, 3)  # a few steps, so the weights are not the fresh initialisation
    path = checkpoints.save(model, spec, f"tiny-{kind}", tmp_path, dataset=dataset.name, steps_trained=3, note="hello")
    assert path == tmp_path / f"tiny-{kind}.json"
    assert (tmp_path / f"tiny-{kind}.safetensors").is_file()
    assert checkpoints.available(tmp_path) == [f"tiny-{kind}"]

    handle = checkpoints.load(f"tiny-{kind}", tmp_path)
    loaded, loaded_spec, card = handle.model, handle.spec, handle.card
    assert not loaded.training and handle.family == spec.family and handle.name == f"tiny-{kind}"
    assert loaded_spec == spec  # the spec is rebuilt from the card alone (dicts back into configs, lists into tuples)
    assert type(loaded) is type(model)
    run = probe(spec)
    with torch.no_grad():
        torch.testing.assert_close(run(loaded), run(model), rtol=0, atol=0)
    assert card["name"] == f"tiny-{kind}" and card["family"] == spec.family
    assert card["spec"] == json.loads(json.dumps(spec.to_dict()))
    assert card["dataset"] == dataset.name and card["steps_trained"] == 3 and card["note"] == "hello"
    assert checkpoints.card(f"tiny-{kind}", tmp_path) == card


def test_a_card_without_weights_is_not_available(tmp_path):
    (tmp_path / "orphan.json").write_text("{}")
    assert checkpoints.available(tmp_path) == []
    with pytest.raises(ValueError, match="orphan"):
        checkpoints.load("orphan", tmp_path)


def test_unknown_name_raises_with_the_name(tmp_path):
    with pytest.raises(ValueError, match="no-such-model"):
        checkpoints.card("no-such-model", tmp_path)
    with pytest.raises(ValueError, match="no-such-model"):
        checkpoints.load("no-such-model")


def test_unknown_family_raises(tmp_path):
    spec = tiny_specs()["classifier"]
    checkpoints.save(spec.build(), spec, "odd", tmp_path)
    card = json.loads((tmp_path / "odd.json").read_text())
    card["family"] = "no-such-family"
    (tmp_path / "odd.json").write_text(json.dumps(card))
    with pytest.raises(ValueError, match="no-such-family"):
        checkpoints.load("odd", tmp_path)


# ---- every shipped checkpoint ------------------------------------------------------------


@pytest.mark.skipif(not SHIPPED, reason="no shipped checkpoints in assets/checkpoints yet")
@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint(name):
    handle = checkpoints.load(name)
    model, spec, card = handle.model, handle.spec, handle.card
    assert card["name"] == name and card["family"] in ("ddpm", "classifier", "noisy-classifier", "autoencoder", "gan",
                                                       "vq", "token-prior", "clip", "kl-autoencoder", "text-diffusion",
                                                       "dalle", "unclip", "realnvp", "flow-matching")
    for key in ("command", "steps_trained", "wall_time_s", "final_loss", "metrics", "dataset"):
        assert key in card, key
    assert card["command"].startswith(f"python -m playground train {name}")
    assert isinstance(card["steps_trained"], int) and card["steps_trained"] > 0
    assert card["wall_time_s"] > 0 and np.isfinite(card["final_loss"]) and isinstance(card["metrics"], dict)
    if card["family"] == "classifier":
        x = torch.zeros(2, spec.in_channels, spec.image_size, spec.image_size)
        with torch.no_grad():
            logits = model(x)
        assert logits.shape == (2, spec.num_classes) and torch.isfinite(logits).all()
        return
    if card["family"] == "noisy-classifier":
        m = card["metrics"]  # accuracy on held-out data falls from clean to pure noise, where it is chance
        assert m["test_accuracy_t0"] > 0.8 and abs(m["test_accuracy_t999"] - m["chance"]) < 0.05
        return
    if card["family"] == "autoencoder":  # reconstructs held-out images within a bound; its card says how well
        test = data.load(spec.dataset, "test", n=200, seed=1)
        mse = float(((autoencoders.reconstruct(model, test.x) - test.x) ** 2).mean())
        bound = 0.15 if spec.latent_dim == 2 else 0.06  # per pixel on [-1, 1]; predicting the mean image gives 0.35
        assert mse < bound and abs(mse - card["metrics"]["test_mse_per_pixel"]) < 0.02
        if spec.kind == "vae":
            assert card["metrics"]["test_kl_nats"] > 0
        return
    if card["family"] == "vq":  # reconstructs held-out images through its tokens; its card holds codebook health
        test = data.load(spec.dataset, "test", n=200, seed=1)
        t = vq.tokens(model, test.x)
        assert t.shape == (200, spec.grid, spec.grid) and int(t.max()) < spec.codebook_size
        assert float(((vq.decode_tokens(model, t) - test.x) ** 2).mean()) < 0.08  # the mean image gives 0.35
        assert {"test_perplexity", "test_dead_codes", "test_mse_per_pixel"} <= set(card["metrics"])
        assert len(card["curves"]["perplexity"]) == len(card["curves"]["step"]) > 10
        return
    if card["family"] == "token-prior":  # samples valid token grids for its shipped tokenizer
        t = prior.sample(model, 2, generator=torch.Generator().manual_seed(0))
        assert t.shape == (2, spec.grid, spec.grid) and 0 <= int(t.min()) and int(t.max()) < spec.codebook_size
        assert checkpoints.card(spec.vq)["spec"]["codebook_size"] == spec.codebook_size
        assert card["metrics"]["test_bits_per_image"] < card["metrics"]["uniform_bits_per_image"]
        return
    if card["family"] == "clip":  # meets the bar; zero-shot works on a few test scenes now
        m = card["metrics"]
        assert m["test_zero_shot_shape_accuracy"] >= 0.95 and m["test_zero_shot_colour_accuracy"] >= 0.95
        assert m["heldout_text_to_image_R@1"] > 10 * m["heldout_chance_R@1"]
        test = data.load_scenes("test", 50, seed=2, two_object_share=0.0)
        p = clip.zero_shot(model, test.x, [f"a {s}" for s in data.SHAPE_CLASSES])
        assert (p.argmax(1) == test.y).float().mean() > 0.85
        return
    if card["family"] == "kl-autoencoder":  # reconstructs held-out scenes so that the judge reads the same facts
        test = data.load_scenes("test", 50, seed=2)
        x_hat = latent.reconstruct(model, test.x)
        assert float(((x_hat - test.x) ** 2).mean()) < 0.005 and card["metrics"]["scene_truth_kept"] > 0.95
        assert sum(data.scene_truth(a) == data.scene_truth(b) for a, b in zip(x_hat, test.x)) >= 45
        assert card["metrics"]["scale_factor"] == pytest.approx(1 / float(model.latent_std))
        return
    if card["family"] == "text-diffusion":  # samples decodable images; its card holds scene truth per scale
        ids = handle.spec.tokenizer.ids(["a red circle", "a blue square"])
        x = sample(model, handle.schedule, handle.noise(2, seed=0), "ddim", 5, y=ids)
        assert x.shape == (2, *handle.sample_shape) and model.decode(x).shape == (2, 3, 32, 32)
        assert {"1.0", "3.0", "5.0"} <= set(card["metrics"]["single_object_by_scale"])
        return
    if card["family"] == "dalle":  # writes token grids of its tokenizer; its card holds accuracy and the rerank gain
        from playground import dalle
        t = dalle.sample(model, ["a red circle", "a blue square"], generator=torch.Generator().manual_seed(0))
        assert t.shape == (2, spec.grid, spec.grid) and 0 <= int(t.min()) and int(t.max()) < spec.codebook_size
        assert checkpoints.card(spec.vq)["spec"]["codebook_size"] == spec.codebook_size
        m = card["metrics"]
        assert m["test_bits_per_image"] < m["uniform_bits_per_image"] and m["single_object"]["shape_colour"] > 0.6
        assert max(m["rerank"]["top1_correct"]) > m["rerank"]["random_correct"]
        return
    if card["family"] == "unclip":  # each stage samples its own shape; its card holds its stage's figures
        from playground import unclip
        m = card["metrics"]
        if spec.stage == "prior":
            assert m["cos_prior_to_true_image"] > m["cos_text_to_true_image"] > m["cos_other_image_to_true_image"]
        elif spec.stage == "decoder":
            x = unclip.decode(handle, torch.nn.functional.normalize(torch.randn(2, spec.embed_dim), dim=1), steps=3)
            assert x.shape == (2, 3, 16, 16) and m["from_true_z_i_scale_3"]["shape_colour"] > 0.3
        else:
            x = unclip.upsample(handle, torch.zeros(2, 3, 16, 16) - 0.7, steps=3)
            assert x.shape == (2, 3, 32, 32) and m["from_true_16"]["psnr_db"] > m["from_true_16"]["bilinear_psnr_db"]
        return
    if card["family"] == "realnvp":  # exact likelihood: its card's log-dets match brute force, its samples the data
        from playground import flows
        test = data.load(card["dataset"], "test", n=8, seed=3).x
        with torch.no_grad():
            z, logdet = model(test)
        assert torch.allclose(model.inverse(z), test, atol=1e-4)
        assert torch.allclose(flows.brute_force_logdet(model, test), logdet, atol=1e-2)
        m = card["metrics"]
        assert m["logdet_max_abs_error_vs_brute_force"] < 1e-2 and m["loglik_flow_nats"] > m["loglik_kde_nats"]
        assert m["sliced_wasserstein_to_data"] < 3 * m["sliced_wasserstein_data_vs_data"] + 0.03
        return
    if card["family"] == "flow-matching":  # an ODE from noise gives finite samples; its card holds their quality
        from playground import flows
        x = flows.flow_sample(model, handle.noise(4, seed=0), "heun", 3, y=handle.labels(4, None))
        assert x.shape == (4, *handle.sample_shape) and torch.isfinite(x).all()
        m = card["metrics"]
        assert m["eval_sampler"].startswith("euler")
        assert (m["sliced_wasserstein_to_data"] < 0.05 if handle.modality == "points" else m["accuracy"] > 0.5)
        return
    if card["family"] == "gan":  # samples images in range; its card holds the measured figures
        x = model.sample(4, torch.Generator().manual_seed(0))
        assert x.shape == (4, spec.in_channels, spec.image_size, spec.image_size) and x.abs().max() <= 1
        assert {"frechet_distance", "diversity", "confidence"} <= set(card["metrics"])
        return
    g = torch.Generator().manual_seed(0)
    x = sample(model, handle.schedule, handle.noise(4, seed=0), "ddim", 5, y=handle.labels(4, None), generator=g)
    assert x.shape == (4, *handle.sample_shape) and torch.isfinite(x).all()
    assert handle.modality == ("points" if handle.sample_shape == (2,) else "image")


# ---- the user's folder ----------------------------------------------------------------------


def test_user_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("PLAYGROUND_USER_DIR", str(tmp_path / "mine"))
    assert checkpoints.user_dir() == tmp_path / "mine"
    assert (tmp_path / "mine").is_dir()


def test_user_dir_default_is_a_cache_folder_outside_assets(tmp_path, monkeypatch):
    monkeypatch.delenv("PLAYGROUND_USER_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    folder = checkpoints.user_dir()
    assert folder == tmp_path / "cache" / "generative-playground"
    assert ASSETS.resolve() not in folder.resolve().parents


def test_user_dir_default_without_xdg_is_under_home(tmp_path, monkeypatch):
    monkeypatch.delenv("PLAYGROUND_USER_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    folder = checkpoints.user_dir()
    assert folder == tmp_path / ".cache" / "generative-playground"
    assert ASSETS.resolve() not in folder.resolve().parents


# ---- command line ---------------------------------------------------------------------------


def _stat(path: Path):
    return (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else None


def test_cli_train_writes_into_out_only(tmp_path, capsys):
    shipped = [checkpoints.CHECKPOINTS / f"ddpm-moons-linear.{ext}" for ext in ("json", "safetensors")]
    before = [_stat(p) for p in shipped]
    assert main(["train", "ddpm-moons-linear", "--steps", "20", "--out", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ddpm-moons-linear.json", "ddpm-moons-linear.safetensors"]
    assert [_stat(p) for p in shipped] == before  # the shipped checkpoint (if any) is untouched
    card = checkpoints.card("ddpm-moons-linear", tmp_path)
    assert card["steps_trained"] == 20
    assert card["command"] == "python -m playground train ddpm-moons-linear --steps 20"
    assert card["dataset"] == "moons" and np.isfinite(card["final_loss"]) and card["wall_time_s"] >= 0
    assert np.isfinite(card["metrics"]["sliced_wasserstein_to_data"])
    handle = checkpoints.load("ddpm-moons-linear", tmp_path)
    assert handle.modality == "points" and handle.schedule.kind == "linear"
    assert "training ddpm-moons-linear" in capsys.readouterr().out


def test_cli_train_unknown_recipe_returns_2(tmp_path, capsys):
    assert main(["train", "no-such-recipe", "--out", str(tmp_path)]) == 2
    assert "no-such-recipe" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif("ddpm-moons-linear" not in SHIPPED, reason="the shipped toy model ddpm-moons-linear is not trained yet")
def test_cli_sample_writes_points(tmp_path, capsys):
    out = tmp_path / "x.npy"
    assert main(["sample", "ddpm-moons-linear", "--n", "4", "--out", str(out), "--steps", "10"]) == 0
    x = np.load(out)
    assert x.shape == (4, 2) and np.isfinite(x).all()
    assert np.abs(x).max() <= 1.0 + 1e-6  # the last DDIM step returns the clipped x̂_0
    assert "wrote 4 samples" in capsys.readouterr().out
    again = tmp_path / "y.npy"
    assert main(["sample", "ddpm-moons-linear", "--n", "4", "--out", str(again), "--steps", "10"]) == 0
    np.testing.assert_array_equal(np.load(again), x)  # same --seed, same samples


@pytest.mark.skipif("ddpm-moons-linear" not in SHIPPED, reason="the shipped toy model ddpm-moons-linear is not trained yet")
def test_cli_sample_rejects_a_label_for_an_unconditional_model(tmp_path):
    assert main(["sample", "ddpm-moons-linear", "--n", "2", "--out", str(tmp_path / "x.npy"), "--label", "1"]) == 2
    assert not (tmp_path / "x.npy").exists()


def test_cli_sample_unknown_name_returns_2(tmp_path, capsys):
    assert main(["sample", "no-such-model", "--n", "4", "--out", str(tmp_path / "x.npy")]) == 2
    assert "no-such-model" in capsys.readouterr().err
    assert not (tmp_path / "x.npy").exists()


def test_cli_list_prints_every_shipped_name(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    names = checkpoints.available()
    for name in names:
        assert name in out
    if not names:
        assert "No shipped models yet" in out


@pytest.mark.skipif("ddpm-ring8-cond" not in SHIPPED or "noisy-classifier-ring8" not in SHIPPED,
                    reason="the ring8 guidance models are not shipped")
def test_cli_sample_with_both_kinds_of_guidance(tmp_path, capsys):
    centre = np.array([0.0, 0.75])  # ring8 class 2 sits at 90°
    for extra in (["--guidance", "3"], ["--guidance", "3", "--classifier", "noisy-classifier-ring8"]):
        out = tmp_path / "x.npy"
        assert main(["sample", "ddpm-ring8-cond", "--n", "64", "--out", str(out), "--steps", "20", "--label", "2", *extra]) == 0
        x = np.load(out)
        assert np.mean(np.linalg.norm(x - centre, axis=1) < 0.3) > 0.8, extra  # pulled to the class's mode
    assert main(["sample", "ddpm-ring8-cond", "--n", "4", "--out", str(tmp_path / "z.npy"), "--label", "2",
                 "--classifier", "noisy-classifier-ring8"]) != 0  # --classifier without a scale is refused
    assert main(["sample", "ddpm-ring8-cond", "--n", "4", "--out", str(tmp_path / "z.npy"), "--guidance", "2"]) != 0
    assert not (tmp_path / "z.npy").exists()


# ---- the loaded-model handle and the device -----------------------------------------------------


def test_loaded_handle_gives_the_facts_pages_need():
    if "ddpm-fashion-cosine" not in SHIPPED:
        pytest.skip("ddpm-fashion-cosine is not shipped")
    m = checkpoints.load("ddpm-fashion-cosine", device="cpu")
    assert m.sample_shape == (1, 28, 28) and m.modality == "image" and m.family == "ddpm"
    assert m.class_names[7] == "Sneaker" and m.num_classes == 10
    assert m.schedule is checkpoints.load("ddpm-fashion-cosine", device="cpu").schedule  # cached, never rebuilt
    torch.testing.assert_close(m.null_condition(3), torch.full((3,), 10))
    assert torch.equal(m.noise(2, seed=5), m.noise(2, seed=5)) and m.noise(2, seed=5).shape == (2, 1, 28, 28)
    torch.testing.assert_close(m.labels(4, None), torch.tensor([0, 1, 2, 3]))


def test_load_refuses_an_unknown_device_with_a_message():
    name = SHIPPED[0] if SHIPPED else None
    if name is None:
        pytest.skip("nothing shipped")
    with pytest.raises(ValueError, match="unknown device"):
        checkpoints.load(name, device="potato")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            checkpoints.load(name, device="cuda")


def test_playground_device_environment_variable_picks_the_device(monkeypatch):
    from playground import default_device
    monkeypatch.setenv("PLAYGROUND_DEVICE", "meta")
    assert default_device() == torch.device("meta")
    monkeypatch.setenv("PLAYGROUND_DEVICE", "cpu")
    assert default_device() == torch.device("cpu")


def _plain(spec: dict) -> dict:
    return json.loads(json.dumps(spec, default=lambda v: v.to_dict()))  # tuples as lists, nested specs as dicts


def test_every_shipped_checkpoint_is_its_recipe():
    """`python -m playground train NAME` reproduces what is shipped: the card's spec, dataset, seed and steps are the
    recipe's, and the card names that command."""
    from playground.families import spec_from_card
    from playground.recipes import RECIPES
    shipped = [name for name in checkpoints.available() if name in RECIPES]
    assert len(shipped) > 40
    for name in shipped:
        card, recipe = checkpoints.card(name), RECIPES[name]
        assert _plain(spec_from_card(card).to_dict()) == _plain(recipe.spec.to_dict()), name
        assert card["dataset"] == recipe.dataset and card.get("seed", 0) == recipe.seed, name
        assert card["steps_trained"] == recipe.steps, name
        assert card["command"] == f"python -m playground train {name}", name


def test_a_loaded_fashion_unet_runs_in_bfloat16_where_the_cpu_has_it(monkeypatch):
    from playground import nn as pnn
    if "ddpm-fashion-cosine" not in SHIPPED:
        pytest.skip("ddpm-fashion-cosine is not shipped")
    for fast in (True, False):
        monkeypatch.setattr(pnn, "cpu_has_fast_bfloat16", lambda: fast)
        model = checkpoints.load("ddpm-fashion-cosine", device="cpu").model
        unet = next(m for m in model.modules() if isinstance(m, UNet))
        assert unet.compute_dtype == (torch.bfloat16 if fast else None)


def test_cli_bench_refuses_an_unknown_group_and_a_missing_diffusers(monkeypatch, capsys):
    import sys
    assert main(["bench", "--only", "no_such_figures"]) == 2
    assert "no bench group no_such_figures" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "diffusers", None)  # as where it is not installed: import fails
    assert main(["bench", "--compare-diffusers"]) == 2
    assert "not a dependency" in capsys.readouterr().out
