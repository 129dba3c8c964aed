"""What the scripts in benchmarks/ that run models on the shared sample have in common."""
from __future__ import annotations

import argparse
from pathlib import Path


def sample_study_parser(doc: str, models: str, n: int) -> argparse.ArgumentParser:
    """--images, --out, --models and --n, the options of every study on the shared sample."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--images", type=Path, required=True, help="ImageNet images (the shared sample)")
    parser.add_argument("--out", type=Path, required=True, help="folder for the results and the figure")
    parser.add_argument("--models", default=models, help="comma-separated model names")
    parser.add_argument("--n", type=int, default=n, help="images every model classifies correctly")
    return parser
