"""Softmax algorithms over an arithmetic that rounds every operation, their exact saturation thresholds, the
non-saturating measures, and the paper's lemmas as predicates."""
