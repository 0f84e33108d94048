"""Shared network blocks: shapes, the null-class convention, and the default size."""
import pytest
import torch
import torch.nn.functional as F

from playground.nn import (Attention, MLPConfig, MLPDenoiser, ResBlock, UNet, UNetConfig, full_precision,
                           sinusoidal_embedding)


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


@pytest.mark.parametrize("size,target", [(7, (14, 14)), (14, (28, 28)), (5, (10, 10)), (4, (7, 7)), (4, (9, 8))])
def test_the_folded_upsampling_convolution_equals_upsampling_then_convolving(size, target):
    from playground.nn import NearestUpConv
    torch.manual_seed(0)
    conv = NearestUpConv(6, 5, 3, padding=1)
    x = torch.randn(3, 6, size, size, requires_grad=True)
    reference = F.conv2d(F.interpolate(x, size=target, mode="nearest"), conv.weight, conv.bias, padding=1)
    out = conv(x, target)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-5)
    # training: the gradients reach the 3×3 weights and the input as they would through the plain path
    grads = torch.autograd.grad(out.square().sum(), (conv.weight, x))
    expected = torch.autograd.grad(reference.square().sum(), (conv.weight, x))
    for got, want in zip(grads, expected):
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)
    with torch.no_grad():  # the kernels kept between calls follow a change of the weights
        conv(x, target)
        conv.weight.add_(1.0)
        moved = F.conv2d(F.interpolate(x, size=target, mode="nearest"), conv.weight, conv.bias, padding=1)
        torch.testing.assert_close(conv(x, target), moved, atol=1e-4, rtol=1e-5)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # kernels kept from a bf16 call serve a float32 one
            conv(x, target)
        torch.testing.assert_close(conv(x, target), moved, atol=1e-4, rtol=1e-5)


def test_the_folded_convolution_accepts_only_what_it_folds():
    from playground.nn import NearestUpConv
    with pytest.raises(ValueError, match="plain 3×3"):
        NearestUpConv(4, 4, 3, padding=1, stride=2)


@pytest.mark.parametrize("text", [False, True])
def test_a_bfloat16_unet_stays_close_to_float32_and_hands_back_float32(text):
    import copy
    config = UNetConfig(image_size=12, base_channels=8, num_res_blocks=1, channel_mults=(1, 2),
                        num_classes=None if text else 3, context_dim=16 if text else None)
    torch.manual_seed(0)
    net = UNet(config).eval()
    fast = copy.deepcopy(net).use_bfloat16()
    x, t = torch.randn(5, 1, 12, 12), torch.tensor([0, 10, 100, 500, 999])
    y = ((torch.randn(5, 7, 16), torch.rand(5, 7) > 0.3, torch.randn(5, 16)) if text  # cross-attention's path
         else torch.tensor([0, 1, 2, 3, 0]))
    with torch.no_grad():
        out, exact = fast(x, t, y), net(x, t, y)
        with full_precision():  # the likelihood bound's way: float32 for this block only
            torch.testing.assert_close(fast(x, t, y), exact, atol=1e-5, rtol=1e-5)
        fast.train()  # training is never in bf16
        torch.testing.assert_close(fast(x, t, y), exact, atol=1e-5, rtol=1e-5)
        fast.eval()
    assert out.dtype == torch.float32 and fast.conv_in.weight.dtype == torch.float32  # weights stay float32
    assert not torch.equal(out, exact)  # it did compute in bf16 ...
    torch.testing.assert_close(out, exact, atol=0.05, rtol=0.05)  # ... to about bf16's 3 significant digits


def test_unets_go_bfloat16_only_where_it_was_measured_to_pay(monkeypatch):
    from playground import nn as pnn
    def unet(size, **more):
        return UNet(UNetConfig(image_size=size, base_channels=8, num_res_blocks=1, channel_mults=(1, 2), **more))
    monkeypatch.setattr(pnn, "cpu_has_fast_bfloat16", lambda: True)
    big, small, text, unconditional = unet(28, num_classes=10), unet(8, num_classes=10), unet(28, context_dim=16), unet(28)
    pnn.unets_in_bfloat16(torch.nn.ModuleList([big, small, text, unconditional]), "cpu")
    assert big.compute_dtype == torch.bfloat16  # the class-conditional Fashion size, measured
    assert small.compute_dtype is None and text.compute_dtype is None  # not measured: float32
    assert unconditional.compute_dtype is None  # e.g. unCLIP's upsampler: not measured
    elsewhere = unet(28, num_classes=10)
    pnn.unets_in_bfloat16(elsewhere, "meta")  # not measured off the CPU: left alone
    assert elsewhere.compute_dtype is None
    monkeypatch.setattr(pnn, "cpu_has_fast_bfloat16", lambda: False)  # emulated bf16 is slower: float32
    slow_cpu = pnn.unets_in_bfloat16(unet(28, num_classes=10), "cpu")
    assert slow_cpu.compute_dtype is None
