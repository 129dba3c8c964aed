"""Command-line glue of `softmax-sat report`, `thresholds` and `verify`: options in, engine calls, files out."""
from __future__ import annotations

import argparse
import hashlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from precision.common.devices import cpu_dispatch, device_description
from precision.common.errors import InputError
from precision.common.files import check_writable, output_folder, strict_json, write_text_atomic
from precision.common.limits import check_classes
from precision.common.options import checked, device_option, listed, refuse_unused
from precision.common.publishing import publishing
from precision.emulated.algorithms import ALGORITHMS
from precision.emulated.thresholds import ORDERS, RIVALS, SaturationFacts, thresholds
from precision.formats.block_scaled import BLOCK_FORMATS
from precision.formats.named_formats import get_format
from precision.formats.rounding import ROUNDING_MODES
from precision.kernels.registry import DTYPES, KERNELS, OPT_IN, Kernel, KernelError, available_kernels, get_kernel
from precision.report.compute import (
    DEFAULT_CLASSES,
    DEFAULT_FORMATS,
    DEFAULT_KERNEL_CLASSES,
    DEFAULT_VOCABULARY,
    OBJECT_FORMAT_CLASSES,
    compute,
    vocabulary_kernels,
)
from precision.report.coq_status import DEFAULT_CERTIFICATE, coq_checked
from precision.report.markdown import markdown

_classes = checked(int, check_classes)  # a number of classes: an integer in [2, MAX_CLASSES]


def _vocabulary(text: str) -> int | str:
    """`--vocabulary`: a number of classes, or 'none'."""
    return "none" if text == "none" else _classes(text)

_format = checked(check=get_format)  # a format name, resolved now so a bad one never reaches a results folder


def _fast_kernels() -> list[str]:
    """The kernels the report measures at --vocabulary classes (those fast at wide rows)."""
    return [k.name for k in KERNELS.values() if k.wide_rows == "fast"]


def configure_report(parser: argparse.ArgumentParser) -> None:
    emulated = parser.add_argument_group("the report")
    emulated.add_argument("--formats", type=listed(check=get_format), default=None,
                          help="emulated formats (default " + ",".join(DEFAULT_FORMATS) + "; any of float16, "
                               "bfloat16, float32, float64, float8_e4m3fn, float8_e5m2, mpBITS, decimalDIGITS, "
                               "deltaSTEP[-paper])")
    emulated.add_argument("--classes", type=listed(cast=int, check=check_classes), default=None,
                          help=f"numbers of classes of the emulated tables (default {DEFAULT_CLASSES}; "
                               f"{OBJECT_FORMAT_CLASSES} for the pure-Python formats mp/decimal/δ)")
    emulated.add_argument("--kernels", type=listed(), default=None,
                          help=f"real kernels measured first ({', '.join(KERNELS)}, or package.module:function; "
                               "default: every kernel whose package is installed; 'none' skips them; opt-in: "
                               f"{', '.join(OPT_IN)}, torch.compile's, ~10 s of compiling per dtype and width)")
    emulated.add_argument("--cpu-paths", action="store_true", default=None,
                          help="measure torch again under each CPU code path this processor supports "
                               "(ATEN_CPU_CAPABILITY; tens of seconds)")
    emulated.add_argument("--vocabulary", type=_vocabulary, default=None,
                          help=f"{', '.join(_fast_kernels())} also measured at this many classes in float16, "
                               f"bfloat16 and float32 (default {DEFAULT_VOCABULARY:,}, Llama 3's; about a second "
                               "each), and --language-models at it; 'none': not")
    emulated.add_argument("--rounding-modes", action="store_true", default=None,
                          help="add the max-shifted thresholds under every rounding mode (nearest-even/away, "
                               "toward zero/+inf/-inf, to odd) with their closed forms, and stochastic "
                               "rounding's exact probabilities for the float8 formats (a few seconds)")
    emulated.add_argument("--block-formats", action="store_true", default=None,
                          help="add where MX (block 32) and NVFP4 (block 16) flush the top's block and clip the "
                               "top, logits quantised before a float32 softmax and probabilities after it (~10 s)")
    emulated.add_argument("--language-models", action="store_true", default=None,
                          help="add log-probability kernels, cross-entropy, attention and soft-capping at "
                               "--vocabulary tokens (~45 s at 128,256; 32,000 with --vocabulary none)")
    emulated.add_argument("--kernel-classes", type=listed(cast=int, check=check_classes),
                          default=None, help="numbers of classes for the kernels (default "
                          f"{','.join(map(str, DEFAULT_KERNEL_CLASSES))}; e.g. 2,10,1000,32000,128256)")
    emulated.add_argument("--proofs", type=Path, default=None,
                          help="a `softmax-sat prove` certificate: the emulated rows its Coq theorems state are "
                               f"marked 'checked by Coq' (default {DEFAULT_CERTIFICATE} when it exists)")
    emulated.add_argument("--algorithms", type=listed(tuple(ALGORITHMS)), default=None,
                          help=f"emulated algorithms (default all: {', '.join(ALGORITHMS)})")
    parser.add_argument("--device", default=None, help="torch device for the torch kernels: cpu, cuda, cuda:N, auto")
    parser.add_argument("--out", type=output_folder, default=Path("reports/saturation"))
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


REPORT_FILES = ("report.json", "report.md", "kernels.png", "top_output.png", "thresholds.png", "sum_window.png",
                "measures.png", "stochastic.png")


@dataclass(frozen=True)
class ReportPlan:
    """`report`'s options resolved once (kernels as objects, defaults filled in, the certificate read): what the
    engines get, never the argparse namespace."""

    formats: tuple[str, ...]
    algorithms: tuple[str, ...] | None  # None: every algorithm (the config records the choice as given)
    classes: tuple[int, ...] | None
    kernels: tuple[Kernel, ...]
    kernel_classes: tuple[int, ...]
    device: str
    vocabulary: int | None
    cpu_paths: bool
    language_models: bool
    rounding_modes: bool
    block_formats: bool
    certificate: Path | None
    proved: list[dict] | None
    out: Path
    figures: bool

    def config(self) -> dict:
        """What decides the report's numbers (the results folder's config)."""
        return {"formats": list(self.formats), "algorithms": self.algorithms, "classes": self.classes,
                "kernels": [k.name for k in self.kernels], "kernel_classes": list(self.kernel_classes),
                "device": self.device, "vocabulary": self.vocabulary, "cpu_paths": self.cpu_paths,
                "language_models": self.language_models} | (
                {"rounding_modes": True} if self.rounding_modes else {}) | (
                {"block_formats": True} if self.block_formats else {}) | {
                # the certificate read decides the "checked by Coq" marks
                "proofs": None if self.certificate is None else
                hashlib.sha256(self.certificate.read_bytes()).hexdigest()}


@contextmanager
def _kernels_option():
    """A kernel's errors in the report name `--kernels`, the option the user gave (the registry says `kernel`)."""
    try:
        yield
    except KernelError as e:
        if e.argument != "kernel":
            raise
        raise KernelError("kernels", e.message) from None


def _named_kernel(name: str) -> Kernel:
    """A kernel of `--kernels`, its errors naming that option."""
    with _kernels_option():
        return get_kernel(name)


def _report_kernels(names) -> tuple[Kernel, ...]:
    if names == ("none",):
        return ()
    return tuple(_named_kernel(k) for k in names) if names else tuple(available_kernels())


def _report_vocabulary(given, kernels, kernel_classes, language_models: bool) -> int | None:
    vocabulary = DEFAULT_VOCABULARY if given is None else None if given == "none" else given
    if given is not None and vocabulary is not None and not language_models and \
            not vocabulary_kernels(list(kernels), vocabulary, kernel_classes):
        raise InputError("--vocabulary", f"measures {', '.join(_fast_kernels())} at {vocabulary:,} classes; "
                         "none of them is among --kernels, or the size is one of --kernel-classes already "
                         "(add --language-models, or use --kernel-classes)")
    return vocabulary


def resolve_report(args) -> ReportPlan:
    """Every option of `report` checked and every name resolved (kernels, device, certificate), before any folder
    is claimed."""
    kernels = _report_kernels(args.kernels)
    device = device_option(args.device, kernels)
    with _kernels_option():
        for k in kernels:
            for d in k.dtypes:
                k.check(d, device)
    kernel_classes = args.kernel_classes or DEFAULT_KERNEL_CLASSES
    certificate = args.proofs or (DEFAULT_CERTIFICATE if DEFAULT_CERTIFICATE.is_file() else None)
    return ReportPlan(
        formats=tuple(args.formats or DEFAULT_FORMATS), algorithms=args.algorithms, classes=args.classes,
        kernels=kernels, kernel_classes=tuple(kernel_classes), device=device,
        vocabulary=_report_vocabulary(args.vocabulary, kernels, kernel_classes, bool(args.language_models)),
        cpu_paths=bool(args.cpu_paths), language_models=bool(args.language_models),
        rounding_modes=bool(args.rounding_modes), block_formats=bool(args.block_formats),
        certificate=None if certificate is None else Path(certificate),
        proved=None if certificate is None else coq_checked(certificate), out=args.out, figures=not args.no_figures)


def run_report(args) -> int:
    plan = resolve_report(args)
    check_writable(plan.out)
    with publishing(plan.out, "report", plan.config(), REPORT_FILES) as staging:
        done = _write_report(plan, staging)
    print(f"wrote {done}")
    return 0


def _write_report(plan: ReportPlan, staging: Path) -> str:
    """The report's JSON, Markdown and figures written into `staging`; what was written, in words."""
    with _kernels_option():  # a user's kernel that breaks its contract while measured
        data = compute(plan.formats, plan.algorithms or tuple(ALGORITHMS), plan.classes, list(plan.kernels),
                       plan.kernel_classes, plan.device, progress=True, cpu_paths=plan.cpu_paths,
                       language_models=plan.language_models, proved=plan.proved, vocabulary=plan.vocabulary,
                       rounding_modes=plan.rounding_modes, block_formats=plan.block_formats, processes=True)
    write_text_atomic(staging / "report.json", strict_json(data, indent=1))
    figures = []
    if plan.figures:
        from precision.report.figures import draw_all
        figures = draw_all(data, staging, processes=True)
        if "stochastic" in data:
            from precision.report.rounding_modes import stochastic_figure
            figures.append(stochastic_figure(data["stochastic"], staging))
    write_text_atomic(staging / "report.md", markdown(data, [p.name for p in figures]))
    return f"{plan.out / 'report.md'}, {plan.out / 'report.json'} and {len(figures)} figures in {data['seconds']} s"


def configure_thresholds(parser: argparse.ArgumentParser) -> None:
    both = parser.add_argument_group("both")
    both.add_argument("--classes", type=_classes, default=2, help="number of classes M (default 2)")
    both.add_argument("--rivals", default=None, choices=RIVALS,
                      help="the M − 1 rivals all at the same logit (the default), or one rival and the rest far "
                           "below")
    emulated = parser.add_argument_group("emulated arithmetic (the default)")
    emulated.add_argument("--format", type=_format, default=None, help="emulated format (default float32)")
    emulated.add_argument("--algorithm", default=None, choices=sorted(ALGORITHMS), help="default shifted")
    emulated.add_argument("--accumulate", type=_format, default=None,
                          help="format the sums are computed in (default: the input format)")
    emulated.add_argument("--order", default=None, choices=ORDERS, help="summation order (default sequential)")
    emulated.add_argument("--rounding", default=None, choices=ROUNDING_MODES,
                          help="rounding mode of every operation, in --format and --accumulate (default "
                               "nearest-even; binary formats; FORMAT@MODE names one format's mode)")
    real = parser.add_argument_group("a real kernel (--kernel)")
    real.add_argument("--kernel", default=None,
                      help=f"measure a real kernel instead ({', '.join(KERNELS)}, or package.module:function)")
    real.add_argument("--dtype", default=None, choices=tuple(DTYPES), help="the kernel's dtype (default float32)")
    real.add_argument("--device", default=None, help="torch device: cpu, cuda, cuda:N, auto (default cpu)")
    real.add_argument("--temperature", type=float, default=None,
                      help="sampling temperature T (logits divided by T): the raw gap from which the top output is 1")
    real.add_argument("--softcap", type=float, default=None,
                      help="logit soft-cap c (c·tanh(z/c), as Gemma 2): whether it keeps the top output below 1")
    block = parser.add_argument_group("a block-scaled format (--block-format)")
    block.add_argument("--block-format", default=None, choices=tuple(BLOCK_FORMATS),
                       help="logits quantised per block before a float32 softmax, probabilities after it: where "
                            "the top's block flushes its rivals and the top probability clips")
    block.add_argument("--rival-logit", type=float, default=None,
                       help="the rivals' logit r, the top at r + gap (default 1: a rival at 0 is stored as 0)")


def run_thresholds(args) -> int:
    if args.block_format is not None:
        refuse_unused(args, {"kernel": "--kernel", "format": "--format", "algorithm": "--algorithm",
                             "accumulate": "--accumulate", "order": "--order", "rounding": "--rounding",
                             "rivals": "--rivals", "dtype": "--dtype", "device": "--device",
                             "temperature": "--temperature", "softcap": "--softcap"},
                       "does not apply to --block-format (a float32 max-shifted softmax, equal rivals at "
                       "--rival-logit)")
        from precision.emulated.block_thresholds import block_thresholds
        rival = 1.0 if args.rival_logit is None else args.rival_logit
        print(strict_json(block_thresholds(args.block_format, args.classes, rival).as_dict(), indent=2))
        return 0
    refuse_unused(args, {"rival_logit": "--rival-logit"}, "applies with --block-format")
    args.rivals = args.rivals or "equal"
    if args.kernel is not None:
        refuse_unused(args, {"format": "--format", "algorithm": "--algorithm", "accumulate": "--accumulate",
                              "order": "--order", "rounding": "--rounding"},
                       "applies to emulated thresholds; --kernel measures a real kernel")
        from precision.kernels.scan import kernel_thresholds
        kernel = get_kernel(args.kernel)
        device = device_option(args.device, [kernel])
        dtype = args.dtype or "float32"
        kernel.check(dtype, device)
        setting_asked = args.temperature is not None or args.softcap is not None
        if setting_asked:  # checked before the scan, not after it
            from precision.kernels.settings import check_setting, setting
            check_setting(args.temperature, args.softcap, dtype)
            if args.rivals != "equal":
                raise InputError("--rivals", "--temperature and --softcap are measured with equal rivals")
        t: SaturationFacts = kernel_thresholds(kernel, dtype, args.classes, args.rivals, device)
        found = t.as_dict()
        if setting_asked:
            gap = None if t.top_is_one_from_gap is None else float(t.top_is_one_from_gap)
            found["setting"] = setting(kernel.name, dtype, args.classes,
                                       1.0 if args.temperature is None else args.temperature, args.softcap,
                                       kernel_gap=gap).as_dict()
        found["machine"] = cpu_dispatch(torch=kernel.package == "torch") | {"device": device_description(device)}
    else:
        refuse_unused(args, {"dtype": "--dtype", "device": "--device", "temperature": "--temperature",
                              "softcap": "--softcap"}, "applies with --kernel")
        moded = lambda name: name if args.rounding is None or name is None else \
            get_format(name).with_rounding(args.rounding)
        found = thresholds(moded(args.format or "float32"), args.algorithm or "shifted", args.classes, args.rivals,
                           moded(args.accumulate), args.order or "sequential").as_dict()
    print(strict_json(found, indent=2))
    return 0


def configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel", required=True, help=f"one of {', '.join(KERNELS)}, or package.module:function")
    parser.add_argument("--dtype", required=True, choices=tuple(DTYPES))
    parser.add_argument("--classes", type=_classes, default=2)
    parser.add_argument("--rivals", default="equal", choices=RIVALS)
    parser.add_argument("--device", default=None, help="torch device for the torch kernels: cpu, cuda, auto")
    parser.add_argument("--out", type=output_folder, default=Path("reports/verify"))


def run_verify(args) -> int:
    from precision.kernels.certificate import certificate_name, verify, write_certificate
    kernel = get_kernel(args.kernel)
    device = device_option(args.device, [kernel])
    kernel.check(args.dtype, device)
    check_writable(args.out)  # fail now, not after the run, if --out cannot be written
    # one kind per certificate: a folder of certificates of other kernels, dtypes or sizes keeps them
    kind = certificate_name(kernel.name, args.dtype, args.classes, args.rivals).removesuffix(".json")
    config = {"kernel": kernel.name, "dtype": args.dtype, "classes": args.classes, "rivals": args.rivals,
              "device": device}
    with publishing(args.out, kind, config, (f"{kind}.json",)) as staging:
        cert = verify(args.kernel, args.dtype, args.classes, args.rivals, device, progress=True)
        write_certificate(cert, staging)
    path = args.out / f"{kind}.json"
    verdict = "holds" if cert.holds else "does NOT hold"
    print(f"{cert.kernel} {cert.dtype} M={cert.classes}: {cert.gaps_evaluated:,} gaps in {cert.seconds} s; top output "
          f"exactly 1 from gap {cert.top_is_one_from_gap}; monotone {cert.monotone}; never leaves 1 "
          f"{cert.never_leaves_one}; others 0 from gap {cert.others_zero_from_gap}; NaN-free {cert.nan_free}. "
          f"Corrected Lemma 2.1 {verdict}. Certificate: {path}")
    if not cert.holds:
        print(f"first counterexample: {cert.counterexample}")
    return 0 if cert.holds else 1
