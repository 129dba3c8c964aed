"""Tiny linear "ImageNet" models on 8×8 images, for tests. Usable as model names in the CLI:
`tests.attacks.tiny_models:tiny0` (tiny1 and tiny2 are close relatives of tiny0, so attacks on one transfer)."""
import numpy as np
import torch

from attacks.models import ModelSpec, PixelModel


def tiny_model(seed=0, relative_of=None):
    """A linear model with N(0, 5²) weights (steps of several pixels survive rounding); `relative_of=k` adds
    a fifth of its own weights to those of model k instead."""
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 8 * 8, 1000))
    torch.nn.init.normal_(net[1].weight, std=5.0)
    if relative_of is not None:
        with torch.no_grad():
            base = tiny_model(relative_of).net[1]
            net[1].weight.mul_(0.2).add_(base.weight)
            net[1].bias.copy_(base.bias)
    spec = ModelSpec(f"tiny{seed}", 8, lambda: net, None, mean=(0.5,) * 3, std=(1 / 255,) * 3)
    model = PixelModel(spec, net).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def tiny0(device="cpu"):
    return tiny_model(0).to(device)


def tiny1(device="cpu"):
    return tiny_model(1, relative_of=0).to(device)


def tiny2(device="cpu"):
    return tiny_model(2, relative_of=0).to(device)


def random_images(n=4, seed=0):
    return torch.from_numpy(np.random.default_rng(seed).integers(0, 256, (n, 3, 8, 8), dtype=np.uint8))


def labelled_image_folder(folder, n, seed=0):
    """n random PNG images named `<wnid>_<i>.png`, labelled with tiny0's prediction (so tiny0 is always right)."""
    from PIL import Image

    from attacks.data import load_pixels, wnids
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(random_images(n, seed)):
        tmp = folder / f"unlabelled_{i}.png"
        Image.fromarray(img.numpy().transpose(1, 2, 0)).save(tmp)
        label = int(tiny0()(load_pixels([tmp], 8).float()).argmax())
        tmp.rename(folder / f"{wnids()[label]}_{i}.png")
    return folder
