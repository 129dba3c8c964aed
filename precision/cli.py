"""Command-line glue of `softmax-sat report`, `thresholds` and `verify`: options in, engine calls, files out."""
from __future__ import annotations

import argparse
import hashlib
from contextlib import contextmanager
from pathlib import Path

from precision.common.devices import cpu_dispatch, device_description, torch_device
from precision.common.errors import InputError
from precision.common.files import check_writable, output_folder, strict_json, write_text_atomic
from precision.common.limits import check_classes
from precision.common.publishing import publishing
from precision.emulated.algorithms import ALGORITHMS
from precision.emulated.thresholds import ORDERS, RIVALS, SaturationFacts, thresholds
from precision.formats.number_formats import get_format
from precision.formats.rounding import ROUNDING_MODES
from precision.kernels.registry import DTYPES, KERNELS, OPT_IN, Kernel, KernelError, available_kernels, get_kernel
from precision.logits.files import LogitsFile
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


def _checked(cast=str, check=None):
    """An argparse type: the text cast (`int`: "is not an integer") and checked by an engine's check, whose
    `InputError` becomes argparse's one-line error under the option; the value is the cast text."""
    def parse(text: str):
        try:
            value = cast(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if check is not None:
            try:
                check(value)
            except InputError as e:
                raise argparse.ArgumentTypeError(e.message) from None
        return value
    return parse


def _listed(choices=None, cast=str, check=None):
    """An argparse type for a comma-separated list, each item as `_checked` takes it."""
    item = _checked(cast, check)

    def parse(text):
        items = [x.strip() for x in text.split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError("give a comma-separated list")
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"{text!r} names an item twice")
        for x in items:
            if choices is not None and x not in choices:
                raise argparse.ArgumentTypeError(f"unknown {x!r}; expected some of {', '.join(choices)}")
        return tuple(item(x) for x in items)
    return parse


_classes = _checked(int, check_classes)  # a number of classes: an integer in [2, MAX_CLASSES]


def _vocabulary(text: str) -> int | str:
    """`--vocabulary`: a number of classes, or 'none'."""
    return "none" if text == "none" else _classes(text)

_format = _checked(check=get_format)  # a format name, resolved now so a bad one never reaches a results folder


def _refuse_unused(args, options: dict[str, str], why: str) -> None:
    """Options the chosen mode does not use are refused, never silently ignored; `options`: dest → flag."""
    given = [flag for dest, flag in options.items() if getattr(args, dest) is not None]
    if given:
        raise InputError(given[0], f"{why}; remove {', '.join(given)}")


def _device(name: str | None, kernels) -> str:
    """The torch device, checked here; a device other than the CPU needs a kernel that runs there."""
    device = "cpu" if name is None else torch_device(name)
    if device != "cpu" and not any(k.accelerated for k in kernels):
        raise InputError("--device", f"{device} applies to the torch kernels; none of "
                         f"{', '.join(k.name for k in kernels) or 'no kernel'} runs there")
    return device


def _fast_kernels() -> list[str]:
    """The kernels the report measures at --vocabulary classes (those fast at wide rows)."""
    return [k.name for k in KERNELS.values() if k.wide_rows == "fast"]


def configure_report(parser: argparse.ArgumentParser) -> None:
    emulated = parser.add_argument_group("the report (without --logits)")
    emulated.add_argument("--formats", type=_listed(check=get_format), default=None,
                          help="emulated formats (default " + ",".join(DEFAULT_FORMATS) + "; any of float16, "
                               "bfloat16, float32, float64, float8_e4m3fn, float8_e5m2, mpBITS, decimalDIGITS, "
                               "deltaSTEP[-paper])")
    emulated.add_argument("--classes", type=_listed(cast=int, check=check_classes), default=None,
                          help=f"numbers of classes of the emulated tables (default {DEFAULT_CLASSES}; "
                               f"{OBJECT_FORMAT_CLASSES} for the pure-Python formats mp/decimal/δ)")
    emulated.add_argument("--kernels", type=_listed(), default=None,
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
    emulated.add_argument("--language-models", action="store_true", default=None,
                          help="add log-probability kernels, cross-entropy, attention and soft-capping at "
                               "--vocabulary tokens (~45 s at 128,256; 32,000 with --vocabulary none)")
    emulated.add_argument("--kernel-classes", type=_listed(cast=int, check=check_classes),
                          default=None, help="numbers of classes for the kernels (default "
                          f"{','.join(map(str, DEFAULT_KERNEL_CLASSES))}; e.g. 2,10,1000,32000,128256)")
    emulated.add_argument("--proofs", type=Path, default=None,
                          help="a `softmax-sat prove` certificate: the emulated rows its Coq theorems state are "
                               f"marked 'checked by Coq' (default {DEFAULT_CERTIFICATE} when it exists)")
    both = parser.add_argument_group("both")
    both.add_argument("--algorithms", type=_listed(tuple(ALGORITHMS)), default=None,
                      help=f"emulated algorithms (default all: {', '.join(ALGORITHMS)}); with --logits, one "
                           "algorithm for --kernel emulated")
    both.add_argument("--device", default=None, help="torch device for the torch kernels: cpu, cuda, cuda:N, auto")
    both.add_argument("--out", type=output_folder, default=Path("reports/saturation"))
    both.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
    own = parser.add_argument_group("your own logits")
    own.add_argument("--logits", nargs="+", default=None, metavar="SOURCE",
                     help="analyse your own logits: one .npy, .csv or .pt file of shape (N, C) (per-row JSON), or a "
                          "dump: .npy / .safetensors / Parquet files, globs ('dump/*.safetensors') or folders of "
                          "shards, (…, C) each (per-token flags in logits.tokens-NNNNN.npy)")
    own.add_argument("--scheduler", default=None,
                     help="with --logits: spread the shards over Dask: 'dask' (a local cluster on 127.0.0.1) or "
                          "tcp://HOST:PORT (a running cluster whose workers can open the files); needs "
                          "pip install 'softmax-saturation[scale]'")
    own.add_argument("--kernel", default=None,
                     help=f"the kernel (default torch; {', '.join(KERNELS)}, package.module:function, or "
                          "'emulated' with one --algorithms)")
    own.add_argument("--dtypes", type=_listed(tuple(DTYPES)), default=None,
                     help="dtypes (default the kernel's among float16,bfloat16,float32,float64)")


REPORT_FILES = ("report.json", "report.md", "kernels.png", "top_output.png", "thresholds.png", "sum_window.png",
                "measures.png", "stochastic.png")
LOGITS_FILES = ("logits.json", "logits.md", "logits_past_threshold.png")


def _token_files(logits) -> tuple[str, ...]:
    """The per-token files a dump's run writes (none for one file reported row by row)."""
    if not isinstance(logits, list):
        return ()
    from precision.logits.dumps import tokens_path
    return tuple(tokens_path(Path("."), i).name for i in range(len(logits)))


def _report_config(args, kernels, logits, device: str) -> dict:
    """What decides a report's numbers (with --logits: the file, its size and time, kernel, dtypes)."""
    if isinstance(logits, list):  # the shards of a dump (where they are scanned does not change a number)
        from precision.logits.dumps import sources_config
        return {**sources_config(logits), "kernel": kernels[0].name, "algorithms": args.algorithms,
                "dtypes": list(args.dtypes), "device": device}
    if logits is not None:
        stat = logits.path.stat()
        return {"logits": str(logits.path.resolve()), "bytes": stat.st_size, "modified": stat.st_mtime_ns,
                "kernel": kernels[0].name, "algorithms": args.algorithms, "dtypes": list(args.dtypes),
                "device": device}
    return {"formats": list(args.formats), "algorithms": args.algorithms, "classes": args.classes,
            "kernels": [k.name for k in kernels], "kernel_classes": list(args.kernel_classes), "device": device,
            "vocabulary": args.vocabulary, "cpu_paths": bool(args.cpu_paths),
            "language_models": bool(args.language_models)} | (
            {"rounding_modes": True} if args.rounding_modes else {})


def _logits_kernel(name: str, algorithms):
    """The kernel of a logits analysis: a real one, or `emulated` with exactly one algorithm."""
    from precision.logits.rows import emulated_kernel
    if name == "emulated":
        if algorithms is None or len(algorithms) != 1:
            raise KernelError("algorithms", "--kernel emulated takes exactly one algorithm, e.g. --algorithms shifted")
        return emulated_kernel(algorithms[0])
    if algorithms is not None:
        raise KernelError("algorithms", f"applies to emulated runs; --kernel {name} is a real kernel "
                          "(use --kernel emulated --algorithms NAME)")
    return get_kernel(name)


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


def _resolve_report(args) -> tuple[list, LogitsFile | list | None, str]:
    """Every option of `report` checked and every name resolved (kernels, dtypes, device, file), before any
    folder is claimed; the defaults of the chosen mode filled in."""
    if args.logits is not None:
        _refuse_unused(args, {"formats": "--formats", "classes": "--classes", "kernels": "--kernels",
                              "kernel_classes": "--kernel-classes", "cpu_paths": "--cpu-paths",
                              "rounding_modes": "--rounding-modes", "vocabulary": "--vocabulary",
                              "language_models": "--language-models", "proofs": "--proofs"},
                       "applies to the report; --logits analyses your file with one --kernel")
        kernel = _logits_kernel(args.kernel or "torch", args.algorithms)
        from precision.logits.analysis import LOGIT_DTYPES
        args.dtypes = args.dtypes or tuple(d for d in LOGIT_DTYPES if d in kernel.dtypes)
        device = _device(args.device, [kernel])
        for d in args.dtypes:
            kernel.check(d, device)
        from precision.logits.dumps import single_logits_file
        single = single_logits_file(args.logits, args.scheduler)
        if single is not None:
            return [kernel], LogitsFile(single), device
        from precision.logits.dask_scan import check_scheduler
        from precision.logits.shards import find_shards
        check_scheduler(args.scheduler)
        return [kernel], find_shards(args.logits), device
    _refuse_unused(args, {"kernel": "--kernel", "dtypes": "--dtypes", "scheduler": "--scheduler"},
                   "applies with --logits (the report measures --kernels over every dtype they take)")
    args.formats = args.formats or DEFAULT_FORMATS
    args.kernel_classes = args.kernel_classes or DEFAULT_KERNEL_CLASSES
    if args.kernels == ("none",):
        kernels: list[Kernel] = []
    else:
        kernels = [_named_kernel(k) for k in args.kernels] if args.kernels else available_kernels()
    device = _device(args.device, kernels)
    with _kernels_option():
        for k in kernels:
            for d in k.dtypes:
                k.check(d, device)
    given = args.vocabulary is not None
    args.vocabulary = DEFAULT_VOCABULARY if not given else None if args.vocabulary == "none" else args.vocabulary
    if given and args.vocabulary is not None and not args.language_models and \
            not vocabulary_kernels(kernels, args.vocabulary, args.kernel_classes):
        raise InputError("--vocabulary", f"measures {', '.join(_fast_kernels())} at {args.vocabulary:,} classes; "
                         "none of them is among --kernels, or the size is one of --kernel-classes already "
                         "(add --language-models, or use --kernel-classes)")
    return kernels, None, device


def run_report(args) -> int:
    kernels, logits, device = _resolve_report(args)
    kind = "report" if logits is None else "logits"
    proved, certificate = None, None
    if logits is None and (args.proofs is not None or DEFAULT_CERTIFICATE.is_file()):
        certificate = args.proofs or DEFAULT_CERTIFICATE
        proved = coq_checked(certificate)
    check_writable(args.out)
    config = _report_config(args, kernels, logits, device)
    if logits is None:  # the certificate read decides the "checked by Coq" marks: it is part of the config
        config["proofs"] = None if certificate is None else \
            hashlib.sha256(Path(certificate).read_bytes()).hexdigest()
    outputs = REPORT_FILES if logits is None else LOGITS_FILES + _token_files(logits)
    # a run refused inside (a bad row found while reading) gives the folder back
    with publishing(args.out, kind, config, outputs) as staging:
        if isinstance(logits, list):
            from precision.logits.dumps import analyse_sources
            analyse_sources(logits, staging, args.dtypes, kernels[0], device, figures=not args.no_figures,
                            scheduler=args.scheduler)
            done = f"{args.out / 'logits.md'}, {args.out / 'logits.json'} and {len(logits)} logits.tokens-NNNNN.npy"
        elif logits is not None:
            from precision.logits.analysis import analyse_logits
            analyse_logits(logits, staging, args.dtypes, kernels[0], device, figures=not args.no_figures,
                           progress=True)
            done = f"{args.out / 'logits.md'}, {args.out / 'logits.json'}"
        else:
            done = _write_report(args, kernels, device, proved, staging)
    print(f"wrote {done}")
    return 0


def _write_report(args, kernels: list[Kernel], device: str, proved: list[dict] | None, staging: Path) -> str:
    """The report's JSON, Markdown and figures written into `staging`; what was written, in words."""
    with _kernels_option():  # a user's kernel that breaks its contract while measured
        data = compute(args.formats, args.algorithms or tuple(ALGORITHMS), args.classes, kernels,
                       args.kernel_classes, device, progress=True, cpu_paths=bool(args.cpu_paths),
                       language_models=bool(args.language_models), proved=proved, vocabulary=args.vocabulary,
                       rounding_modes=bool(args.rounding_modes))
    write_text_atomic(staging / "report.json", strict_json(data, indent=1))
    figures = []
    if not args.no_figures:
        from precision.report.figures import draw_all
        figures = draw_all(data, staging)
        if "stochastic" in data:
            from precision.report.rounding_modes import stochastic_figure
            figures.append(stochastic_figure(data["stochastic"], staging))
    write_text_atomic(staging / "report.md", markdown(data, [p.name for p in figures]))
    return f"{args.out / 'report.md'}, {args.out / 'report.json'} and {len(figures)} figures in {data['seconds']} s"


def configure_thresholds(parser: argparse.ArgumentParser) -> None:
    both = parser.add_argument_group("both")
    both.add_argument("--classes", type=_classes, default=2, help="number of classes M (default 2)")
    both.add_argument("--rivals", default="equal", choices=RIVALS,
                      help="the M − 1 rivals all at the same logit, or one rival and the rest far below")
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


def run_thresholds(args) -> int:
    if args.kernel is not None:
        _refuse_unused(args, {"format": "--format", "algorithm": "--algorithm", "accumulate": "--accumulate",
                              "order": "--order", "rounding": "--rounding"},
                       "applies to emulated thresholds; --kernel measures a real kernel")
        from precision.kernels.scan import kernel_thresholds
        kernel = get_kernel(args.kernel)
        device = _device(args.device, [kernel])
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
        _refuse_unused(args, {"dtype": "--dtype", "device": "--device", "temperature": "--temperature",
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
    device = _device(args.device, [kernel])
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
