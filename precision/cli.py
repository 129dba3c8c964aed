"""Command-line glue of `softmax-sat report`, `thresholds` and `verify`: options in, engine calls, files out."""
from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from precision.common.devices import torch_device
from precision.common.errors import InputError
from precision.common.files import check_writable, claim, locked
from precision.emulated.algorithms import ALGORITHMS
from precision.emulated.thresholds import ORDERS, thresholds
from precision.formats.number_formats import get_format
from precision.kernels.registry import DTYPES, KERNELS, KernelError, available_kernels, get_kernel
from precision.logits.files import LogitsFile
from precision.report.compute import (
    DEFAULT_CLASSES,
    DEFAULT_FORMATS,
    DEFAULT_KERNEL_CLASSES,
    OBJECT_FORMAT_CLASSES,
    compute,
    markdown,
)


def _listed(option: str, choices=None, cast=str, check=None):
    """An argparse type for a comma-separated list; the error names the option and the bad item."""
    def parse(text):
        items = [x.strip() for x in text.split(",") if x.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"{option}: give a comma-separated list")
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"{option}: {text!r} names an item twice")
        out = []
        for x in items:
            if choices is not None and x not in choices:
                raise argparse.ArgumentTypeError(f"{option}: unknown {x!r}; expected some of {', '.join(choices)}")
            try:
                try:
                    value = cast(x)
                except ValueError:
                    raise InputError(option, f"{x!r} is not an integer") from None
                if check is not None:
                    check(value)
            except InputError as e:
                raise argparse.ArgumentTypeError(f"{option}: {e.message}") from None
            out.append(value)
        return tuple(out)
    return parse


def _at_least_two(m: int) -> None:
    if m < 2:
        raise InputError("classes", f"must be integers ≥ 2, got {m}")


def configure_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--formats", type=_listed("--formats", check=get_format), default=DEFAULT_FORMATS,
                        help="emulated formats (float16, bfloat16, float32, float64, float8_e4m3fn, float8_e5m2, "
                             "mpBITS, decimalDIGITS, deltaSTEP[-paper])")
    parser.add_argument("--algorithms", type=_listed("--algorithms", tuple(ALGORITHMS)), default=None,
                        help=f"emulated algorithms (default all: {', '.join(ALGORITHMS)}); with --logits, one "
                             "algorithm for --kernel emulated")
    parser.add_argument("--classes", type=_listed("--classes", cast=int, check=_at_least_two), default=None,
                        help=f"numbers of classes of the emulated tables (default {DEFAULT_CLASSES}; "
                             f"{OBJECT_FORMAT_CLASSES} for the pure-Python formats mp/decimal/δ)")
    parser.add_argument("--kernels", type=_listed("--kernels", tuple(KERNELS) + ("none",)), default=None,
                        help="real kernels measured first (default: every kernel whose package is installed; "
                             "'none' skips them)")
    parser.add_argument("--kernel-classes", type=_listed("--kernel-classes", cast=int, check=_at_least_two),
                        default=DEFAULT_KERNEL_CLASSES, help="numbers of classes for the kernels "
                        f"(default {','.join(map(str, DEFAULT_KERNEL_CLASSES))}; e.g. 2,10,1000,32000,128256)")
    parser.add_argument("--device", default="cpu", help="torch device for the torch kernels: cpu, cuda, auto")
    parser.add_argument("--out", type=Path, default=Path("reports/saturation"))
    parser.add_argument("--logits", type=Path, default=None,
                        help="analyse your own logits: .npy, .csv or .pt file of shape (N, C)")
    parser.add_argument("--kernel", default="torch",
                        help=f"with --logits: the kernel ({', '.join(KERNELS)}, or 'emulated' with one --algorithms)")
    parser.add_argument("--dtypes", type=_listed("--dtypes", tuple(DTYPES)), default=None,
                        help="with --logits: dtypes (default float16,bfloat16,float32,float64)")
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")


def _staging(out: Path) -> Path:
    """A fresh folder inside `out` to write a run into."""
    staging = out / f".staging-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


REPORT_FILES = ("report.json", "report.md", "kernels.png", "top_output.png", "thresholds.png", "sum_window.png",
                "measures.png")
LOGITS_FILES = ("logits.json", "logits.md", "logits_past_threshold.png")


def _publish(staging: Path, out: Path, outputs: tuple[str, ...]) -> None:
    """Move a finished run's files over the old ones (JSON last: it is what readers check), and remove the old
    run's outputs this run did not write (a figure from another run must not sit beside this one's JSON)."""
    names = sorted(p.name for p in staging.iterdir())
    for name in set(outputs) - set(names):
        (out / name).unlink(missing_ok=True)
    for name in sorted(names, key=lambda n: n.endswith(".json")):
        os.replace(staging / name, out / name)
    staging.rmdir()


def _report_config(args, kernels, logits: LogitsFile | None) -> dict:
    """What decides a report's numbers (with --logits: the file, its size and time, kernel, dtypes)."""
    if logits is not None:
        stat = logits.path.stat()
        return {"logits": str(Path(args.logits).resolve()), "bytes": stat.st_size, "modified": stat.st_mtime_ns,
                "kernel": args.kernel, "algorithms": args.algorithms, "dtypes": args.dtypes, "device": args.device}
    return {"formats": list(args.formats), "algorithms": args.algorithms, "classes": args.classes,
            "kernels": [k.name for k in kernels], "kernel_classes": list(args.kernel_classes), "device": args.device}


def _logits_kernel(args):
    from precision.logits.rows import emulated_kernel
    if args.kernel == "emulated":
        if args.algorithms is None or len(args.algorithms) != 1:
            raise KernelError("algorithms", "--kernel emulated takes exactly one algorithm, e.g. --algorithms shifted")
        return emulated_kernel(args.algorithms[0])
    if args.algorithms is not None:
        raise KernelError("algorithms", f"applies to emulated runs; --kernel {args.kernel} is a real kernel "
                          "(use --kernel emulated --algorithms NAME)")
    return get_kernel(args.kernel)


def run_report(args) -> int:
    device = torch_device(args.device) if args.device != "cpu" else "cpu"
    kernels = [] if args.kernels == ("none",) else \
        ([get_kernel(k) for k in args.kernels] if args.kernels else available_kernels())
    for k in kernels:
        for d in k.dtypes:
            k.check(d, device)
    logits = None if args.logits is None else LogitsFile(args.logits)
    check_writable(args.out)
    config = _report_config(args, kernels, logits)
    with locked(args.out):
        claim(args.out, config, name="logits.config.json" if args.logits is not None else "report.config.json")
        staging = _staging(args.out)
        try:
            if logits is not None:
                from precision.logits.analysis import LOGIT_DTYPES, analyse_logits
                analyse_logits(logits, staging, args.dtypes or LOGIT_DTYPES, _logits_kernel(args), device,
                               figures=not args.no_figures)
                _publish(staging, args.out, LOGITS_FILES)
                print(f"wrote {args.out / 'logits.md'}, {args.out / 'logits.json'}")
                return 0
            data = compute(args.formats, args.algorithms or tuple(ALGORITHMS), args.classes, kernels,
                           args.kernel_classes, device)
            (staging / "report.json").write_text(json.dumps(data, indent=1, allow_nan=False))
            figures = []
            if not args.no_figures:
                from precision.report.figures import draw_all
                figures = draw_all(data, staging)
            (staging / "report.md").write_text(markdown(data, [p.name for p in figures]))
            _publish(staging, args.out, REPORT_FILES)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    print(f"wrote {args.out / 'report.md'}, {args.out / 'report.json'} and {len(figures)} figures in "
          f"{data['seconds']} s")
    return 0


def configure_thresholds(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", default="float32", help="emulated format")
    parser.add_argument("--algorithm", default="shifted", choices=sorted(ALGORITHMS))
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--rivals", default="equal", choices=("one", "equal"))
    parser.add_argument("--accumulate", default=None)
    parser.add_argument("--order", default="sequential", choices=ORDERS)
    parser.add_argument("--kernel", default=None, help=f"measure a real kernel instead ({', '.join(KERNELS)})")
    parser.add_argument("--dtype", default=None, help="with --kernel: the dtype (default float32)")
    parser.add_argument("--device", default="cpu")


def run_thresholds(args) -> int:
    if args.kernel is not None:
        from precision.kernels.scan import kernel_thresholds
        device = torch_device(args.device) if args.device != "cpu" else "cpu"
        t = kernel_thresholds(get_kernel(args.kernel), args.dtype or "float32", args.classes, args.rivals, device)
    else:
        t = thresholds(args.format, args.algorithm, args.classes, args.rivals, args.accumulate, args.order)
    print(json.dumps(t.as_dict(), indent=2, allow_nan=False))
    return 0


def configure_verify(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kernel", required=True, help=f"one of {', '.join(KERNELS)}")
    parser.add_argument("--dtype", required=True, help="float16, bfloat16, float32, float8_e4m3fn or float8_e5m2")
    parser.add_argument("--classes", type=int, default=2)
    parser.add_argument("--rivals", default="equal", choices=("one", "equal"))
    parser.add_argument("--device", default="cpu", help="torch device for the torch kernels: cpu, cuda, auto")
    parser.add_argument("--out", type=Path, default=Path("reports/verify"))


def run_verify(args) -> int:
    from precision.kernels.certificate import verify, write_certificate
    if args.classes < 2:
        raise InputError("classes", f"must be an integer ≥ 2, got {args.classes}")
    device = torch_device(args.device) if args.device != "cpu" else "cpu"
    get_kernel(args.kernel).check(args.dtype, device)
    args.out.mkdir(parents=True, exist_ok=True)  # fail now, not after the run, if --out cannot be written
    cert = verify(args.kernel, args.dtype, args.classes, args.rivals, device)
    path = write_certificate(cert, args.out)
    verdict = "holds" if cert.holds else "does NOT hold"
    print(f"{cert.kernel} {cert.dtype} M={cert.classes}: {cert.gaps_evaluated:,} gaps in {cert.seconds} s; top output "
          f"exactly 1 from gap {cert.first_top_one_gap}; monotone {cert.monotone}; never leaves 1 "
          f"{cert.never_leaves_one}; others 0 from gap {cert.others_zero_from_gap}; NaN-free {cert.nan_free}. "
          f"Corrected Lemma 2.1 {verdict}. Certificate: {path}")
    return 0 if cert.holds else 1
