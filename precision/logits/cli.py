"""`softmax-sat logits` (the logits room's command): your own logits — one file or a dump of shards — through one
kernel in each dtype; per-row or per-token flags, a summary, a table and a figure in a results folder."""
from __future__ import annotations

import argparse
from pathlib import Path

from precision.common.errors import InputError, under
from precision.common.files import check_writable, output_folder
from precision.common.options import device_option, listed
from precision.common.publishing import publishing
from precision.emulated.algorithms import ALGORITHMS
from precision.formats.dtypes import ALL_DTYPES, EMULATED_ONLY, NO_LOGITS, check_logits_dtype
from precision.kernels.registry import KERNELS, Kernel, get_kernel
from precision.logits.dumps import LOGIT_DTYPES

LOGITS_FILES = ("logits.json", "logits.md", "logits_past_threshold.png")


def configure_logits(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("SOURCE", nargs="+",
                        help="files (.npy, .safetensors, Parquet, .csv, .pt; (…, C) each), globs "
                             "('dump/*.safetensors') or folders of shards; one file is a dump of one shard "
                             "(per-row flags in logits.tokens-NNNNN.npy, one per shard)")
    parser.add_argument("--kernel", default="torch",
                        help=f"the kernel (default torch; {', '.join(KERNELS)}, package.module:function, or "
                             "'emulated' with --algorithm)")
    parser.add_argument("--algorithm", default=None, choices=tuple(ALGORITHMS),
                        help="the emulated algorithm of --kernel emulated")
    parser.add_argument("--dtypes", type=listed(tuple(ALL_DTYPES) + tuple(NO_LOGITS), check=check_logits_dtype),
                        default=None,
                        help="dtypes (default the kernel's among " + ",".join(LOGIT_DTYPES) + "; FP6/FP4 "
                             "round the logits to the format: a logit beyond its largest value is stored as the "
                             "largest, no overflow row); with --kernel emulated also " + ",".join(EMULATED_ONLY) +
                             ": a block-scaled format (MX: blocks of 32, NVFP4: 16) quantises each row per block "
                             "along the row before a softmax computed in float32, whose gaps, thresholds and ulps "
                             "are float32's; a kernel that cannot run a dtype is refused")
    parser.add_argument("--scheduler", default=None,
                        help="spread a dump's shards over Dask: 'dask' (a local cluster on 127.0.0.1) or "
                             "tcp://HOST:PORT (a running cluster whose workers can open the files); needs "
                             "pip install 'softmax-saturation[scale]'")
    parser.add_argument("--device", default=None, help="torch device for the torch kernels: cpu, cuda, cuda:N, auto")
    parser.add_argument("--out", type=output_folder, default=Path("reports/logits"))
    parser.add_argument("--no-figures", action="store_true", help="skip the PNG figure")


def logits_kernel(name: str, algorithm: str | None) -> Kernel:
    """The kernel of a logits analysis: a real one, or `emulated` with its algorithm."""
    from precision.logits.rows import emulated_kernel
    if name == "emulated":
        if algorithm is None:
            raise InputError("--algorithm", "--kernel emulated needs one, e.g. --algorithm shifted")
        return emulated_kernel(algorithm)
    if algorithm is not None:
        raise InputError("--algorithm", f"applies to --kernel emulated; {name} is a real kernel")
    return get_kernel(name)


def _token_files(shards) -> tuple[str, ...]:
    """The per-token files the run writes, one per shard."""
    from precision.logits.dumps import tokens_path
    return tuple(tokens_path(Path("."), i).name for i in range(len(shards)))


def _config(shards, kernel: Kernel, algorithm: str | None, dtypes, device: str) -> dict:
    """What decides the numbers: the shards (files, sizes, times), kernel, dtypes, device (where they are scanned
    does not change a number)."""
    from precision.logits.dumps import sources_config
    return sources_config(shards) | {"kernel": kernel.name, "algorithms": None if algorithm is None else [algorithm],
                                     "dtypes": list(dtypes), "device": device}


def run_logits(args) -> int:
    with under("SOURCE", only="logits"):  # the engines' `logits` is the command's SOURCE
        return _run(args)


def _run(args) -> int:
    kernel = logits_kernel(args.kernel, args.algorithm)
    dtypes = args.dtypes or tuple(d for d in LOGIT_DTYPES if d in kernel.dtypes)
    device = device_option(args.device, [kernel])
    with under("--dtypes", only="dtype"):
        for d in dtypes:
            kernel.check(d, device)
    from precision.logits.dask_scan import check_scheduler
    from precision.logits.shards import find_shards
    check_scheduler(args.scheduler)
    shards = find_shards(args.SOURCE)
    check_writable(args.out)
    config = _config(shards, kernel, args.algorithm, dtypes, device)
    # a run refused inside (a bad row found while reading) gives the folder back
    with publishing(args.out, "logits", config, LOGITS_FILES + _token_files(shards)) as staging:
        from precision.logits.dumps import analyse_sources
        analyse_sources(shards, staging, dtypes, kernel, device, figures=not args.no_figures,
                        scheduler=args.scheduler)
    done = f"{args.out / 'logits.md'}, {args.out / 'logits.json'} and {len(shards)} logits.tokens-NNNNN.npy"
    print(f"wrote {done}")
    return 0
