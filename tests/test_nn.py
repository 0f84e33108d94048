"""Shared network blocks: shapes, the null-class convention, and the default size."""
import pytest
import torch

from playground.nn import Attention, MLPConfig, MLPDenoiser, ResBlock, UNet, UNetConfig, sinusoidal_embedding


def num_params(model):
    return sum(p.numel() for p in model.parameters())


def test_sinusoidal_embedding():
    emb = sinusoidal_embedding(torch.tensor([0, 5, 999]), 16)
    assert emb.shape == (3, 16)
    torch.testing.assert_close(emb[0], torch.cat([torch.zeros(8), torch.ones(8)]))  # sin 0 = 0, cos 0 = 1
    torch.testing.assert_close(emb[1, 0], torch.sin(torch.tensor(5.0)))  # the first frequency is 1
    assert sinusoidal_embedding(torch.tensor([1, 2]), 7).shape == (2, 7)


def test_blocks():
    x, emb = torch.randn(2, 8, 5, 5), torch.randn(2, 16)
    assert ResBlock(8, 12, 16, dropout=0.1)(x, emb).shape == (2, 12, 5, 5)
    assert Attention(8, num_heads=2)(x).shape == x.shape
    with pytest.raises(ValueError):
        Attention(8, num_heads=3)


def test_unet_default_size():
    model = UNet(UNetConfig())
    n = num_params(model)
    print(f"default UNet (28x28x1): {n:,} parameters")
    assert 500_000 <= n <= 2_000_000


@pytest.mark.parametrize("image_size, channels", [(28, 1), (32, 3), (8, 1)])
@pytest.mark.parametrize("num_classes", [None, 10])
def test_unet_shapes(image_size, channels, num_classes):
    config = UNetConfig(image_size=image_size, in_channels=channels, base_channels=16, num_res_blocks=1, num_classes=num_classes)
    model = UNet(config)
    assert model.config is config
    x, t = torch.randn(2, channels, image_size, image_size), torch.tensor([0, 999])
    y = None if num_classes is None else torch.tensor([3, 7])
    assert model(x, t, y).shape == x.shape
    if num_classes is not None:
        assert model.null_class == num_classes and model.class_emb.num_embeddings == num_classes + 1
        # y=None means the null class
        torch.testing.assert_close(model(x, t), model(x, t, torch.full((2,), num_classes)))
    else:
        with pytest.raises(ValueError, match="unconditional"):
            model(x, t, torch.tensor([0, 1]))


def test_unet_backprop():
    model = UNet(UNetConfig(base_channels=8, num_res_blocks=1, num_classes=3))
    model(torch.randn(2, 1, 28, 28), torch.tensor([1, 2]), torch.tensor([0, 3])).pow(2).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("num_classes", [None, 8])
def test_mlp_denoiser(num_classes):
    model = MLPDenoiser(MLPConfig(num_classes=num_classes))
    x, t = torch.randn(5, 2), torch.randint(0, 100, (5,))
    y = None if num_classes is None else torch.randint(0, num_classes, (5,))
    assert model(x, t, y).shape == (5, 2)
    assert model.config.data_dim == 2 and model.null_class == num_classes
    if num_classes is not None:
        torch.testing.assert_close(model(x, t), model(x, t, torch.full((5,), num_classes)))


@pytest.mark.parametrize("text", [False, True])
def test_channels_last_unet_computes_the_same_and_hands_back_the_usual_layout(text):
    import copy
    config = UNetConfig(image_size=12, base_channels=8, num_res_blocks=1, channel_mults=(1, 2),
                        num_classes=None if text else 3, context_dim=16 if text else None)
    torch.manual_seed(0)
    net = UNet(config).eval()
    fast = copy.deepcopy(net).use_channels_last()
    weight = next(p for p in fast.parameters() if p.dim() == 4 and p.shape[1] > 1)  # a conv of several channels
    assert fast.channels_last and weight.is_contiguous(memory_format=torch.channels_last)
    x, t = torch.randn(5, 1, 12, 12), torch.tensor([0, 10, 100, 500, 999])
    y = ((torch.randn(5, 7, 16), torch.rand(5, 7) > 0.3, torch.randn(5, 16)) if text  # cross-attention's path
         else torch.tensor([0, 1, 2, 3, 0]))
    with torch.no_grad():
        out = fast(x, t, y)
        torch.testing.assert_close(out, net(x, t, y), atol=1e-5, rtol=1e-4)
    assert out.is_contiguous() and x.is_contiguous()  # callers never see the inside layout


def test_unets_go_channels_last_only_where_it_was_measured_to_pay():
    from playground.nn import unets_channels_last
    def unet(size):
        return UNet(UNetConfig(image_size=size, base_channels=8, num_res_blocks=1, channel_mults=(1, 2)))
    big, small = unet(28), unet(8)
    unets_channels_last(torch.nn.ModuleList([big, small]), "cpu")
    assert big.channels_last and not small.channels_last  # 28×28 pays on a CPU; 8×8 costs
    elsewhere = unet(28)
    unets_channels_last(elsewhere, "meta")  # not measured off the CPU: left alone
    assert not elsewhere.channels_last
