"""A small proof-checking kernel (claims, each with one kind of evidence) and the proofs of Lemmas 2.1 and 2.2."""
from . import kernel
from .certificates import all_proofs, certify
from .kernel import *  # noqa: F403  (the kernel's public names: kernel.__all__)

__all__ = kernel.__all__ + ["all_proofs", "certify"]
