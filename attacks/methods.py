"""The paper's two attacks (Appendix B), batched: construct once, call `step` on a batch of pixel images.

Both ascend raw class activations (logits, no softmax, no loss) and keep every iterate a valid image:
`X ← clip(round(X + step), 0, 255)`.

The paper writes the step as α∇_X g but not in which units X is when the gradient is taken; three readings:
- "unit" (default): the image as the [0, 1] tensor torchvision's ToTensor gives, mapped back to [0, 255] and
  rounded; a pixel step of α·255²·∇_x g. It reproduces the paper's observations: on SqueezeNet 1.1 all 16 sample
  images reached their target and a float32 confidence of exactly 1.0 within 6–42 iterations, top activations
  reached hundreds (the paper's Figure 1 shows CA1 from ∼20 to ∼4e3).
- "input": the normalised network input z = (x − mean)/std; a pixel step of α·σ²·∇_x g with σ = 255·std ≈ 58,
  19 times smaller. Rounding then halts the attack on about half the images (in 150 iterations 9 of 16 never
  changed their top activation; the paper reports 8–20 % halted after 500).
- "pixels": literally x ← x + α∇_x g in [0, 255], 65,000 times smaller than "unit": every step rounds back to the
  same image (no pixel of 8 sample images changed in 30 iterations).
"""
from __future__ import annotations

import math
from typing import Literal, get_args

import torch

from precision.common.errors import InputError


def valid_image(x: torch.Tensor) -> torch.Tensor:
    """Round to integer pixels and clip to [0, 255]: the discretisation constraint of the paper."""
    return x.round().clamp_(0, 255)


Gradient = Literal["unit", "input", "pixels"]  # the readings of the paper's α∇_X g (module docstring)
GRADIENTS: tuple[Gradient, ...] = get_args(Gradient)
# The working image between steps: "rounded" (every iterate a valid image: sub-pixel progress is lost) or "float"
# (the unrounded iterate is kept; the model sees, and the records hold, its rounded image).
WorkingImage = Literal["rounded", "float"]
WORKING_IMAGES: tuple[WorkingImage, ...] = get_args(WorkingImage)
# Multi-class multipliers: "switch" gives the class behind `high` and the other `low`; "balance" chooses them
# continuously in [low, high] (their sum fixed at low + high) so that the predicted gap between the two targets
# after the step is zero.
MultiplierRule = Literal["switch", "balance"]
MULTIPLIER_RULES: tuple[MultiplierRule, ...] = get_args(MultiplierRule)


def check_settings(alpha: float | None = None, low: float | None = None, high: float | None = None,
                   gradient: str | None = None, working_image: str | None = None,
                   multipliers: str | None = None) -> None:
    """Reject multipliers and gradient readings the attacks cannot use (the ones given; None is not checked)."""
    for name, value in (("alpha", alpha), ("low", low), ("high", high)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise InputError(name, f"must be a positive finite number, got {value}")
    if low is not None and high is not None and not low <= high:  # each one's range is checked above
        raise InputError("low", f"multipliers need 0 < low ≤ high, got {low}, {high}")
    choices: tuple[str, ...]
    for name, reading, choices in (("gradient", gradient, GRADIENTS), ("working_image", working_image, WORKING_IMAGES),
                                   ("multipliers", multipliers, MULTIPLIER_RULES)):
        if reading is not None and reading not in choices:
            raise InputError(name, f"must be one of {', '.join(choices)}, got {reading!r}")


def _gradient_scale(model, gradient: Gradient):
    """Factor turning the pixel-space gradient into the pixel step α·factor·∇_x g of the chosen reading."""
    check_settings(gradient=gradient)
    return {"unit": 255.0 ** 2, "input": model.std ** 2, "pixels": 1.0}[gradient]  # std: per channel, in pixels


class OverOptimized:
    """X ← clip(round(X + α ∇_X g(X)_c)), α = 0.15: keeps raising the target logit past softmax saturation."""

    def __init__(self, model, alpha: float = 0.15, gradient: Gradient = "unit",
                 working_image: WorkingImage = "rounded"):
        check_settings(alpha=alpha, working_image=working_image)
        self.model, self.alpha, self.working_image = model, alpha, working_image
        self.gradient_scale = _gradient_scale(model, gradient)

    def image(self, x: torch.Tensor) -> torch.Tensor:
        """The valid image the model sees, and the records hold, for a working image x."""
        return x if self.working_image == "rounded" else valid_image(x)

    def multipliers(self, x: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        w = torch.zeros_like(logits)
        w[torch.arange(len(w), device=w.device), targets[:, 0]] = self.alpha
        return w

    def step(self, x: torch.Tensor, targets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One iteration, one forward and one backward pass: (the logits at the image of x, the next working x).
        targets: (B, k) class indices. The gradient is ∇_X Σ multiplier·g(X) over each image's targets."""
        seen = self.image(x.detach().float()).requires_grad_(True)
        logits = self.model(seen)
        weights = self.multipliers(seen, logits, targets)
        (grad,) = torch.autograd.grad((logits * weights).sum(), seen)
        moved = x.detach().float() + grad * self.gradient_scale
        return logits.detach(), valid_image(moved) if self.working_image == "rounded" else moved.clamp_(0, 255)


class MultiClass(OverOptimized):
    """X ← clip(round(X + α ∇g_c + β ∇g_d)), α, β ∈ [low, high]: the class that is currently less likely gets
    the larger multiplier (rule "switch"), or both are chosen so that the predicted gap after the step is zero
    (rule "balance"), so that neither class runs away and the top softmax output stays between 0.5 and 1."""

    def __init__(self, model, low: float = 0.05, high: float = 0.1, gradient: Gradient = "unit",
                 working_image: WorkingImage = "rounded", rule: MultiplierRule = "switch"):
        check_settings(low=low, high=high, working_image=working_image, multipliers=rule)
        self.model, self.low, self.high, self.rule, self.working_image = model, low, high, rule, working_image
        self.gradient_scale = _gradient_scale(model, gradient)

    def multipliers(self, x: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        rows = torch.arange(len(logits), device=logits.device)
        gc, gd = logits[rows, targets[:, 0]], logits[rows, targets[:, 1]]
        if self.rule == "switch":
            c_behind = gc < gd
            alpha, beta = torch.where(c_behind, self.high, self.low), torch.where(c_behind, self.low, self.high)
        else:
            alpha = self.balancing_alpha(x, gc, gd)
            beta = (self.low + self.high) - alpha
        w = torch.zeros_like(logits)
        w[rows, targets[:, 0]] = alpha.to(w.dtype)
        w[rows, targets[:, 1]] = beta.to(w.dtype)
        return w.detach()

    def balancing_alpha(self, x: torch.Tensor, gc: torch.Tensor, gd: torch.Tensor) -> torch.Tensor:
        """α ∈ [low, high] (β = low + high − α) whose first-order prediction of the gap g_c − g_d after the step
        is zero: gap + α·a + β·b = 0 with a = Σ s·∇g_c·(∇g_c − ∇g_d), b = Σ s·∇g_d·(∇g_c − ∇g_d), s the step scale
        (per channel for the "input" reading)."""
        grad_c, grad_d = (torch.autograd.grad(g.sum(), x, retain_graph=True)[0] for g in (gc, gd))
        diff = (grad_c - grad_d) * self.gradient_scale
        a, b = (grad_c * diff).flatten(1).sum(1), (grad_d * diff).flatten(1).sum(1)
        gap = (gc - gd).detach()
        alpha = -(gap + (self.low + self.high) * b) / (a - b).where((a - b).abs() > 0, torch.ones_like(a))
        return alpha.clamp(self.low, self.high)


MethodName = Literal["over-optimized", "multi-class"]
METHODS: dict[MethodName, type[OverOptimized]] = {"over-optimized": OverOptimized, "multi-class": MultiClass}
TARGETS_PER_IMAGE: dict[MethodName, int] = {"over-optimized": 1, "multi-class": 2}


def build_method(name: MethodName, model, alpha: float = 0.15, low: float = 0.05, high: float = 0.1,
                 gradient: Gradient = "unit", working_image: WorkingImage = "rounded",
                 multipliers: MultiplierRule = "switch") -> OverOptimized:
    """The attack `name` on `model`, with its own multipliers (α for over-optimized, low/high for multi-class)."""
    if name == "over-optimized":
        return OverOptimized(model, alpha, gradient=gradient, working_image=working_image)
    if name == "multi-class":
        return MultiClass(model, low, high, gradient=gradient, working_image=working_image, rule=multipliers)
    raise InputError("method", f"unknown {name!r}; expected one of {', '.join(METHODS)}")


SEEDS = range(0, 2 ** 63)  # what torch.Generator.manual_seed and NumPy both take


def check_seed(seed: object) -> None:
    """Refuse a seed that torch's and NumPy's generators would not both take."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed not in SEEDS:
        raise InputError("seed", f"must be an integer in 0..2**63 − 1, got {seed!r}")


def draw_targets(labels: torch.Tensor, classes_per_image: int, seed: int, num_classes: int = 1000) -> torch.Tensor:
    """Seeded target classes, distinct from each image's true class and from each other: (B, k)."""
    check_seed(seed)
    g = torch.Generator().manual_seed(seed)
    out = torch.empty(len(labels), classes_per_image, dtype=torch.long)
    for i, y in enumerate(labels.tolist()):
        pool = torch.randperm(num_classes - 1, generator=g)[:classes_per_image]
        out[i] = pool + (pool >= y).long()  # skip the true class
    return out
