"""playground.systems: the comparison's bookkeeping (what each system needs, the table, diversity), without
sampling (test_dalle_page.py runs the systems themselves)."""
import pytest
import torch

from playground import systems
from playground.clip.model import CLIPSpec
from playground.models import Loaded


def test_missing_names_what_each_system_lacks():
    lacking = systems.missing(["clip-scenes", "ldm-scenes"])
    assert lacking["latent diffusion"] == []
    assert lacking["DALL·E 1"] == ["dalle-scenes", "vq-scenes"]
    assert "unclip-prior" in lacking["DALL·E 2"] and "unclip-prior" not in lacking["DALL·E 2 without prior"]


def test_diversity_is_zero_for_identical_images_and_grows_with_difference():
    torch.manual_seed(0)
    clip_m = Loaded("c", CLIPSpec(width=4, image_features=8, d_model=8, layers=1, heads=2, embed_dim=4).build().eval(),
                    None)
    same = torch.rand(1, 3, 32, 32).repeat(4, 1, 1, 1) * 2 - 1
    assert systems.diversity(clip_m, same, 2) == pytest.approx(0.0, abs=1e-6)
    different = torch.rand(4, 3, 32, 32) * 2 - 1
    assert systems.diversity(clip_m, different, 2) > 0


def test_the_table_has_a_row_per_system_and_dashes_where_nothing_was_measured():
    results = [{"system": "DALL·E 1", "measured": {"shape_colour": 0.5, "correct": 0.25, "clip_score": 1.5,
                                                   "diversity": 0.1234, "seconds_per_image": 0.02,
                                                   "binding": {"bound": 0.75, "swapped": 0.125}}},
               {"system": "latent diffusion", "measured": {"shape_colour": 1.0, "correct": 1.0, "clip_score": 2.0,
                                                           "diversity": None, "seconds_per_image": 0.2}}]
    table = systems.table(results)
    assert "| DALL·E 1 | 50% | 25% | 1.50 | 0.123 | 0.020 | 75% | 12% |" in table
    assert "| latent diffusion | 100% | 100% | 2.00 | – | 0.200 | – | – |" in table


@pytest.mark.parametrize("prompts, message", [([], "from 1"), (["a red circle"] * 9, "from 1 to 8"), ([""], "empty")])
def test_prompts_are_checked(prompts, message):
    with pytest.raises(ValueError, match=message):
        systems.check_prompts(prompts)


def test_an_unknown_system_is_refused():
    with pytest.raises(ValueError, match="unknown system"):
        systems.images(systems.load_parts(lambda name: None), "Imagen", ["a red circle"])
