"""Number formats, softmax algorithms and the real softmax kernels, saturation thresholds measured and exact,
the paper's lemmas as predicates. Hypothesis strategies live in `precision.strategies` (import it explicitly,
as `hypothesis.extra.numpy`)."""
from .batch_saturation import Saturation, looks_like_probabilities, saturation_of
from .certificate import Certificate, verify
from .formats import BinaryFormat, DecimalFormat, DeltaGrid, Format, get_format
from .kernel_scan import KernelThresholds, kernel_thresholds
from .kernels import DTYPES, KERNELS, Kernel, KernelError, available_kernels, get_kernel
from .lemmas import Verdict, lemma_2_1, lemma_2_1_corrected, lemma_2_2, lemma_2_2_corrected
from .per_row import RowSaturation, row_saturation
from .saturation import Thresholds, thresholds
from .softmax import ALGORITHMS, native_softmax, softmax
from .watch import ProbabilitiesWarning, SaturationWarning, Watch, watch

__all__ = ["ALGORITHMS", "BinaryFormat", "Certificate", "DTYPES", "DecimalFormat", "DeltaGrid", "Format", "KERNELS",
           "Kernel", "KernelError", "KernelThresholds", "RowSaturation", "Thresholds", "Verdict", "available_kernels",
           "get_format", "get_kernel", "kernel_thresholds", "lemma_2_1", "lemma_2_1_corrected", "lemma_2_2",
           "lemma_2_2_corrected", "native_softmax", "row_saturation", "softmax", "thresholds", "verify",
           "Saturation", "saturation_of", "looks_like_probabilities", "ProbabilitiesWarning", "SaturationWarning",
           "Watch", "watch"]
