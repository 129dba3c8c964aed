"""External proof checkers the proofs call on: Coq (with Flocq, CoqInterval and Gappa)."""
