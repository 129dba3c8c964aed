"""Speed of the rounding-mode thresholds and of stochastic rounding's exact curve (issue 26's goals: every
(format × mode) threshold at 2 and 1,000 classes in at most 1 s each; the two-class stochastic curve of one format
in at most 10 s). Wall and CPU time per configuration, and the thresholds themselves.

    python benchmarks/bench_modes.py                       # this tree
    python benchmarks/bench_modes.py --compare /tmp/old    # and an older tree (its `precision` package) side by
                                                           # side: per format, old then new, same conditions; every
                                                           # threshold must be the same
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

FORMATS = ("float16", "bfloat16", "float32", "float64", "float8_e4m3fn", "float8_e5m2", "float8_e4m3", "float8_e3m4",
           "float8_e4m3fnuz", "float8_e5m2fnuz", "float8_e4m3b11fnuz", "float6_e2m3fn", "float6_e3m2fn",
           "float4_e2m1fn")
FACTS = ("top_is_one_from_gap", "others_zero_from_gap", "nan_from_gap", "top_not_one_after_first", "method")


def measure(formats, classes, curves, algorithm="shifted") -> list[dict]:
    """Time thresholds(FORMAT@MODE, algorithm, M) and stochastic_curve(FORMAT) in this process."""
    from precision.emulated.stochastic import first_reaching, stochastic_curve
    from precision.emulated.thresholds import thresholds
    from precision.formats.rounding import ROUNDING_MODES
    rows = []
    for f in formats:
        for mode in ROUNDING_MODES:
            for m in classes:
                wall, cpu = time.perf_counter(), time.process_time()
                d = thresholds(f"{f}@{mode}", algorithm, m).as_dict()
                what = f"{f}@{mode} M={m}" + ("" if algorithm == "shifted" else f" {algorithm}")
                rows.append({"what": what, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                             "result": {k: d[k] for k in FACTS}})
        if f in curves:
            wall, cpu = time.perf_counter(), time.process_time()
            curve = stochastic_curve(f)
            rows.append({"what": f"stochastic curve {f}", "wall": time.perf_counter() - wall,
                         "cpu": time.process_time() - cpu,
                         "result": {"gaps": len(curve), "first_reaching": {k: str(v) for k, v in
                                                                          first_reaching(curve).items()},
                                    "p_top_one": [str(c.p_top_one) for c in curve],
                                    "expected_top": [str(c.expected_top) for c in curve]}})
    return rows


def run_tree(tree: Path, fmt: str, classes, curves, algorithm: str) -> list[dict]:
    """`measure` for one format in a fresh process importing `precision` from `tree`."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    out = subprocess.run([sys.executable, __file__, "--json", "--formats", fmt, "--classes",
                          ",".join(map(str, classes)), "--curves", ",".join(curves), "--algorithm", algorithm],
                         env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", default=",".join(FORMATS))
    ap.add_argument("--classes", default="2,1000")
    ap.add_argument("--algorithm", default="shifted", help="the emulated algorithm of the thresholds")
    ap.add_argument("--curves", default="bfloat16", help="formats whose stochastic curve is timed ('' for none)")
    ap.add_argument("--compare", type=Path, default=None, help="an older tree to time side by side")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON (used by --compare)")
    args = ap.parse_args()
    formats, classes = args.formats.split(","), [int(m) for m in args.classes.split(",")]
    curves = [c for c in args.curves.split(",") if c]
    if args.json:
        print(json.dumps(measure(formats, classes, curves, args.algorithm)))
        return
    here = Path(__file__).resolve().parents[1]
    differ = 0
    print(f"{'configuration':40s} {'old wall':>9s} {'old CPU':>8s} {'new wall':>9s} {'new CPU':>8s}"
          if args.compare else f"{'configuration':40s} {'wall':>7s} {'CPU':>7s}")
    for f in formats:
        new = run_tree(here, f, classes, curves, args.algorithm)
        if args.compare is None:
            for r in new:
                print(f"{r['what']:40s} {r['wall']:7.2f} {r['cpu']:7.2f}")
            continue
        old = run_tree(args.compare, f, classes, curves, args.algorithm)
        for o, n in zip(old, new):
            same = o["result"] == n["result"]
            differ += not same
            print(f"{n['what']:40s} {o['wall']:9.2f} {o['cpu']:8.2f} {n['wall']:9.2f} {n['cpu']:8.2f}"
                  + ("" if same else "  RESULTS DIFFER"))
    if args.compare is not None:
        print("every result the same in both trees" if not differ else f"{differ} results differ")


if __name__ == "__main__":
    main()
