"""Mini-CLIP and its captioned scenes: the tokenizer, InfoNCE against a hand computation, the temperature clip, a
tiny model that learns, the measuring functions' definitions, bad inputs, scene_truth on clean renders, the
held-out split, and the clip-score command."""
import math

import numpy as np
import pytest
import torch
from PIL import Image

from playground import checkpoints, clip, data
from playground.__main__ import main
from playground.clip import measure
from playground.data import shapes
from playground.train import train


def tiny_spec(**kw):
    return clip.CLIPSpec(width=8, image_features=16, d_model=16, layers=1, heads=2, embed_dim=8, **kw)


@pytest.fixture(scope="module")
def tiny_model():
    torch.manual_seed(0)
    return tiny_spec().build().eval()


# --- the tokenizer ---------------------------------------------------------------------------------------------

def test_tokenizer_reads_the_grammar_and_reports_unknown_words():
    tok = clip.CLIPSpec().tokenizer
    ids = tok.encode(["A red circle.", "a large photograph of an orange blob"])
    assert ids.shape == (2, 16) and ids.dtype == torch.long
    assert tok.decode(ids[0]) == "a red circle"
    assert ids[0, 3] == 1 and (ids[0, 4:] == 0).all()  # <eot>, then <pad>
    assert tok.decode(ids[1]) == "a large <unk> of a <unk> <unk>"  # "an" is read as "a"
    assert tok.unknown_words(["a large photograph of an orange blob", "an orange"]) == ["photograph", "orange", "blob"]
    assert tok.unknown_words("a small cyan square at the top left") == []
    assert tok.encode("a circle in the center").tolist() == tok.encode("a circle in the centre").tolist()
    with pytest.raises(ValueError, match="not in the vocabulary: 'photograph'"):
        tok.encode("a photograph", strict=True)
    with pytest.raises(ValueError, match="at most 15"):
        tok.encode(" ".join(["red"] * 16))


def test_every_caption_of_the_grammar_is_in_the_vocabulary():
    ds = data.load("scenes", "train", n=200)
    tok = clip.CLIPSpec().tokenizer
    texts = [c for cs in ds.all_captions for c in cs]
    assert tok.unknown_words(texts) == [] and len(ds.all_captions[0]) == 8
    assert all(tok.decode(row) == text for row, text in zip(tok.ids(texts), texts))


# --- the loss ---------------------------------------------------------------------------------------------------

def test_info_nce_against_a_hand_computation():
    a, b, c, d = 2.0, 0.5, -1.0, 3.0
    logits = torch.tensor([[a, b], [c, d]])  # row i: image i against captions 0, 1
    image_to_text = -(math.log(math.exp(a) / (math.exp(a) + math.exp(b))) + math.log(math.exp(d) / (math.exp(c) + math.exp(d)))) / 2
    text_to_image = -(math.log(math.exp(a) / (math.exp(a) + math.exp(c))) + math.log(math.exp(d) / (math.exp(b) + math.exp(d)))) / 2
    assert clip.info_nce(logits).item() == pytest.approx((image_to_text + text_to_image) / 2, rel=1e-6)


def test_info_nce_is_symmetric_and_small_when_the_diagonal_wins():
    logits = torch.randn(5, 5, generator=torch.Generator().manual_seed(0))
    assert clip.info_nce(logits).item() == pytest.approx(clip.info_nce(logits.T).item(), rel=1e-6)
    assert clip.info_nce(torch.eye(5) * 100).item() < 1e-6
    assert clip.info_nce(torch.zeros(5, 5)).item() == pytest.approx(math.log(5), rel=1e-6)  # chance


def test_temperature_starts_at_0_07_and_the_logit_scale_is_clipped_at_100(tiny_model):
    assert 1 / tiny_model.logit_scale_clipped().item() == pytest.approx(0.07, rel=1e-5)
    model = tiny_spec().build()
    with torch.no_grad():
        model.logit_scale.fill_(10.0)  # e^10 ≈ 22,026
    assert model.logit_scale_clipped().item() == pytest.approx(100.0, rel=1e-5)
    x, ids = torch.zeros(2, 3, 32, 32), model.tokenizer.encode(["a red circle", "a blue square"])
    cos = model.encode_image(x) @ model.encode_text(ids).T
    torch.testing.assert_close(model(x, ids), 100 * cos)


def test_the_loss_falls_below_chance_in_a_few_dozen_steps():
    spec = clip.CLIPSpec(width=8, image_features=32, d_model=16, layers=1, heads=2, embed_dim=16, batch_size=32, lr=3e-3)
    ds = clip.training_set(data.load("scenes", "train", n=256), spec)
    assert ds.y.shape == (256, 8, 16)
    _, history = train(spec, ds, 60, seed=0)
    assert set(history) >= {"loss", "temperature", "accuracy"}
    # chance is log B (every caption equally likely); the first steps start above it
    assert np.mean(history["loss"][-10:]) < math.log(32) - 0.3 < np.mean(history["loss"][:5])
    assert all(0 <= a <= 1 for a in history["accuracy"]) and np.mean(history["accuracy"][-10:]) > 1 / 32


def test_preview_is_the_similarity_matrix_of_fixed_scenes(tiny_model):
    sim = tiny_spec().preview(tiny_model, 6, torch.Generator())
    assert sim.shape == (6, 6) and sim.abs().max() <= 1 + 1e-5
    assert clip.preview_scenes(6).captions == data.load("scenes", "test", n=6).captions


# --- measuring ----------------------------------------------------------------------------------------------------

def test_zero_shot_gives_probabilities_over_the_prompts(tiny_model):
    x = data.load("scenes", "test", n=5).x
    p = clip.zero_shot(tiny_model, x, ["a circle", "a square", "a triangle"])
    assert p.shape == (5, 3) and (p >= 0).all()
    torch.testing.assert_close(p.sum(1), torch.ones(5))
    assert clip.zero_shot(tiny_model, x[0], ["a circle", "a square"]).shape == (1, 2)  # one (3, 32, 32) image


def test_retrieval_recall_on_an_identity_and_a_reversed_ranking(tiny_model, monkeypatch):
    x = torch.zeros(6, 3, 32, 32)
    texts = [f"a {c} circle" for c in data.COLOURS]  # six different captions
    monkeypatch.setattr(measure, "similarity", lambda model, images, captions: torch.eye(6))
    r = clip.retrieval_recall(tiny_model, x, texts, ks=(1, 5))
    assert r["text_to_image_R@1"] == r["image_to_text_R@1"] == 1.0
    assert r["chance_R@1"] == pytest.approx(1 / 6) and r["chance_R@5"] == pytest.approx(5 / 6)
    reversed_ranking = torch.arange(6.0)[None, :].repeat(6, 1) - 10 * torch.eye(6)  # the true pair scores lowest
    monkeypatch.setattr(measure, "similarity", lambda model, images, captions: reversed_ranking)
    r = clip.retrieval_recall(tiny_model, x, texts, ks=(1, 5))
    assert r["text_to_image_R@1"] == r["image_to_text_R@1"] == 0.0 and r["image_to_text_R@5"] == 0.0
    # a repeated caption: image 0 ranks caption 5 first, which is the same text as its own, so it counts as right
    best_is_the_twin = torch.eye(6)
    best_is_the_twin[0, 5] = 2.0
    monkeypatch.setattr(measure, "similarity", lambda model, images, captions: best_is_the_twin)
    r = clip.retrieval_recall(tiny_model, x, texts[:5] + texts[:1], ks=(1,))
    assert r["image_to_text_R@1"] == r["text_to_image_R@1"] == 1.0
    assert r["chance_R@1"] == pytest.approx((2 + 1 + 1 + 1 + 1 + 2) / 6 / 6)


def test_clip_score_is_2_5_times_the_positive_cosine(tiny_model):
    x = data.load("scenes", "test", n=8).x
    cos = clip.similarity(tiny_model, x, ["a red circle"])[:, 0]
    score = clip.clip_score(tiny_model, x, "a red circle")
    torch.testing.assert_close(score, 2.5 * cos.clamp(min=0))
    assert score.shape == (8,) and (score >= 0).all() and (score <= 2.5).all()
    per_image = clip.clip_score(tiny_model, x[:2], ["a red circle", "a blue square"])
    torch.testing.assert_close(per_image[0], score[0])


def test_binding_test_and_modality_gap(tiny_model):
    ds = data.load("scenes", "test", n=40)
    result = clip.binding_test(tiny_model, ds.x, ds.scenes)
    two = [i for i, s in enumerate(ds.scenes) if len(s.objects) == 2]
    assert result.index == two and 0 <= result.prefers_truth <= 1
    a, b = ds.scenes[two[0]].objects
    assert result.true_captions[0] == f"a {a.colour} {a.shape} and a {b.colour} {b.shape}"
    assert result.swapped_captions[0] == f"a {b.colour} {a.shape} and a {a.colour} {b.shape}"
    assert 0 <= clip.modality_gap(tiny_model, ds.x, ds.captions) <= 2
    image_xy, text_xy = clip.project_pairs(tiny_model, ds.x, ds.captions)
    assert image_xy.shape == text_xy.shape == (40, 2)


@pytest.mark.parametrize("call, message", [
    (lambda m, x: clip.zero_shot(m, x, ["a circle"]), "from 2 to 32 prompts; got 1 .*always 1"),
    (lambda m, x: clip.zero_shot(m, x, ["a circle"] * 500), "from 2 to 32 prompts; got 500"),
    (lambda m, x: clip.zero_shot(m, x, ["a circle", "  "]), "prompt 2 is empty"),
    (lambda m, x: clip.zero_shot(m, x, "a circle"), "got 1"),
    (lambda m, x: clip.clip_score(m, x, ""), "empty"),
    (lambda m, x: clip.clip_score(m, x, "a" * 10_000), "10,000 characters long; the limit is 200"),
    (lambda m, x: clip.clip_score(m, x, ["a red circle"] * 3), "one per image"),
    (lambda m, x: clip.clip_score(m, x, "a photograph", strict=True), "not in the vocabulary: 'photograph'"),
    (lambda m, x: clip.clip_score(m, x[:, :1], "a red circle"), r"RGB 32×32"),
    (lambda m, x: clip.clip_score(m, x.numpy(), "a red circle"), "must be a tensor"),
    (lambda m, x: clip.clip_score(m, x * float("nan"), "a red circle"), "finite"),
    (lambda m, x: clip.encode_texts(m, 42), "list of strings"),
])
def test_bad_inputs_are_refused_with_a_clear_message(tiny_model, call, message):
    x = torch.zeros(2, 3, 32, 32)
    with pytest.raises(ValueError, match=message):
        call(tiny_model, x)


# --- the scenes and their judge -------------------------------------------------------------------------------------

def test_scene_truth_is_exact_on_clean_renders():
    scenes = data.load("scenes", "train", n=150, seed=3).subset(torch.arange(150))
    held = data.load("scenes", "heldout", n=50, seed=3)
    for x, scene in zip(torch.cat([scenes.x, held.x]), scenes.scenes + held.scenes):
        assert data.scene_truth(x) == scene
    one = data.load("shapes", "test", n=20)  # the one-shape dataset reads back too
    for x, caption in zip(one.x, one.captions):
        assert data.captions(data.scene_truth(x))[0] == caption
    uint8 = shapes.render(held.scenes[0])
    assert data.scene_truth(uint8) == held.scenes[0]
    assert data.scene_truth(np.full((32, 32, 3), shapes.BACKGROUND, np.uint8)).objects == ()
    with pytest.raises(ValueError, match="one RGB image"):
        data.scene_truth(torch.zeros(1, 32, 32))


def test_held_out_pairs_appear_only_in_the_held_out_split():
    def pairs(ds):
        return {(o.colour, o.shape) for s in ds.scenes for o in s.objects}

    assert not pairs(data.load("scenes", "train", n=2000)) & data.HELD_OUT
    assert not pairs(data.load("scenes", "test", n=1000)) & data.HELD_OUT
    held = data.load("scenes", "heldout", n=300)
    assert all(any((o.colour, o.shape) in data.HELD_OUT for o in s.objects) for s in held.scenes)
    assert pairs(held) >= data.HELD_OUT
    train = data.load("scenes", "train", n=2000)  # … while each held-out colour and shape is seen in training
    assert {c for c, _ in data.HELD_OUT} <= {o.colour for s in train.scenes for o in s.objects}


def test_scenes_are_deterministic_and_two_objects_differ_in_colour_and_shape():
    a, b = data.load("scenes", "test", n=100, seed=1), data.load("scenes", "test", n=100, seed=1)
    assert torch.equal(a.x, b.x) and a.scenes == b.scenes and a.x.shape == (100, 3, 32, 32)
    two = [s for s in a.scenes if len(s.objects) == 2]
    assert 20 < len(two) < 80 and all(s.relation in ("left of", "above") for s in two)
    assert all(s.objects[0].colour != s.objects[1].colour and s.objects[0].shape != s.objects[1].shape for s in two)
    assert data.captions(two[0])[1].split()[3] in ("left", "above")
    with pytest.raises(ValueError, match="split must be"):
        data.load_scenes("valid")


# --- the command line --------------------------------------------------------------------------------------------

def test_cli_clip_score_on_a_tiny_checkpoint(tmp_path, tiny_model, capsys):
    checkpoints.save(tiny_model, tiny_model.spec, "tiny-clip", tmp_path, dataset="scenes")
    scenes = data.load("scenes", "test", n=2)
    paths = []
    for k, x in enumerate(scenes.x):
        paths.append(tmp_path / f"scene{k}.png")
        Image.fromarray(((x.permute(1, 2, 0) + 1) * 127.5).round().byte().numpy()).save(paths[-1])
    assert main(["clip-score", "tiny-clip", "--folder", str(tmp_path), "--text", "a red circle", *map(str, paths)]) == 0
    out = capsys.readouterr().out
    expected = clip.clip_score(tiny_model, scenes.x, "a red circle")
    lines = [line.split() for line in out.splitlines() if line.endswith(".png")]
    assert "higher means a better match" in out and [l[1] for l in lines] == list(map(str, paths))
    assert [float(l[0]) for l in lines] == pytest.approx(expected.tolist(), abs=2e-4)
    assert main(["clip-score", "tiny-clip", "--folder", str(tmp_path), "--text", "", str(paths[0])]) == 2
    assert "empty" in capsys.readouterr().err
    (tmp_path / "notes.txt").write_text("not an image")
    assert main(["clip-score", "tiny-clip", "--folder", str(tmp_path), "--text", "a circle", str(tmp_path / "notes.txt")]) == 2
    assert "not an image" in capsys.readouterr().err
