(** * Lemma 2.2 on IEEE binary32: the paper's counterexample, both top outputs exactly 1

    The paper's Lemma 2.2 says raising the top logit by v1 and the rival's by vt > v1 lowers the top output
    (l1 < p1).  On Flocq's IEEE 754 binary32 model ([IEEESoftmax.kernel]: the subtraction of the logits, exp
    correctly rounded, 1 + r and 1 / s each rounded), logits (30, 0) raised by (1, 1.1) to (31, 1.1f), with
    1.1f = 9227469·2^−23 the binary32 value of 1.1, give top outputs exactly 1 and 1: l1 < p1 fails
    ([Lemma22Rounded] proves l1 <= p1 always, and equality once l1 = 1).  Any two finite logits at least 29 and
    at most 64 apart give exactly 1 ([binary32_top_one_far]). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core IEEE754.BinarySingleNaN.
From Interval Require Import Tactic.
From SoftmaxSat Require Import IEEESoftmax.
Open Scope R_scope.

(** binary32: 24 bits, infinities at exponent 128 (exported: the spec's pins use them). *)
#[export] Instance binary32_prec : Prec_gt_0 24 := eq_refl.
#[export] Instance binary32_emax : Prec_lt_emax 24 128 := eq_refl.
(** 30 = 15728640·2^−19, 31 = 16252928·2^−19, and 1.1 rounded to binary32: 9227469·2^−23. *)
Definition binary32_30 : binary_float 24 128 := @B754_finite 24 128 false 15728640 (-19) eq_refl.
Definition binary32_31 : binary_float 24 128 := @B754_finite 24 128 false 16252928 (-19) eq_refl.
Definition binary32_1_1 : binary_float 24 128 := @B754_finite 24 128 false 9227469 (-23) eq_refl.

Lemma binary32_top_one_far : forall E, exp_spec 24 128 E -> forall x1 x2 : binary_float 24 128,
  is_finite x1 = true -> is_finite x2 = true -> B2R x2 + 29 <= B2R x1 -> B2R x1 - B2R x2 <= 64 ->
  B2R (fst (kernel 24 128 E x1 x2)) = 1.
Proof.
  intros E HE x1 x2 F1 F2 H29 H64.
  assert (Hp : (2 <= 24)%Z) by lia. assert (Hm : (4 <= 128)%Z) by lia.
  assert (F29 : generic_format radix2 (FLT_exp (3 - 128 - 24) 24) (- 29)).
  { replace (- 29) with (IZR (-29) * bpow radix2 0) by (simpl; lra).
    apply generic_format_FLT. exists (Float radix2 (-29) 0); simpl; [reflexivity | lia | lia]. }
  assert (F64 : generic_format radix2 (FLT_exp (3 - 128 - 24) 24) (- 64)).
  { replace (- 64) with (IZR (-1) * bpow radix2 6) by (simpl; lra).
    apply generic_format_FLT. exists (Float radix2 (-1) 6); simpl; [reflexivity | lia | lia]. }
  assert (D : round radix2 (FLT_exp (3 - 128 - 24) 24) ZnearestE (B2R x2 - B2R x1) <= - 29)
    by (apply round_le_generic; try exact _; [exact F29 | lra]).
  assert (D' : - 64 <= round radix2 (FLT_exp (3 - 128 - 24) 24) ZnearestE (B2R x2 - B2R x1))
    by (apply round_ge_generic; try exact _; [exact F64 | lra]).
  apply (proj2 (ieee_top_one_iff 24 128 Hp Hm E HE x1 x2 F1 F2 ltac:(lra)
           ltac:(rewrite Rabs_left by lra; apply Rle_lt_trans with 64; [lra | simpl; lra]))).
  apply round_le_generic; try exact _.
  - apply generic_format_bpow. unfold FLT_exp. lia.
  - apply Rle_trans with (exp (- 29)).
    + destruct (Rle_lt_or_eq_dec _ _ D) as [L|Q]; [left; apply exp_increasing; exact L | rewrite Q; lra].
    + simpl bpow. interval.
Qed.

Theorem binary32_lemma_2_2_both_one : forall E, exp_spec 24 128 E ->
  B2R (fst (kernel 24 128 E binary32_30 (B754_zero false))) = 1 /\
  B2R (fst (kernel 24 128 E binary32_31 binary32_1_1)) = 1.
Proof.
  intros E HE. split; apply binary32_top_one_far; try exact HE; try reflexivity;
    unfold B2R, binary32_30, binary32_31, binary32_1_1, F2R; simpl; lra.
Qed.
