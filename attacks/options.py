"""Command-line options shared by `softmax-sat attack` and `experiment` (and the torchrun entry point,
`python -m attacks.experiment`), so that every command spells them the same way."""
from __future__ import annotations

from .methods import MULTIPLIER_RULES, WORKING_IMAGES
from .transferability import CLEANINGS, CRITERIA


def add_readings(parser, defaults: bool = True) -> None:
    """The readings of the paper's step that it does not state (see attacks.methods)."""
    parser.add_argument("--working-image", choices=WORKING_IMAGES, default="rounded" if defaults else None,
                        dest="working_image", help="keep every iterate rounded (default) or the unrounded iterate "
                                                   "(the model sees, the records hold, its rounded image)")
    parser.add_argument("--multipliers", choices=MULTIPLIER_RULES, default="switch" if defaults else None,
                        help="multi-class: the class behind gets --high (switch, default), or both chosen in "
                             "[low, high] to cancel the predicted gap (balance)")


def add_criterion(parser) -> None:
    parser.add_argument("--criterion", choices=CRITERIA, default="misclassified",
                        help="an example transfers when the other model misclassifies it (default) or predicts a "
                             "target class")
    parser.add_argument("--cleaning", choices=CLEANINGS, default="never",
                        help="drop the examples that never transfer (default) or that do not transfer at the last "
                             "iteration (every curve then ends at 100 %%, as the paper says its curves do)")
