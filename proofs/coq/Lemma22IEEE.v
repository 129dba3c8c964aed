(** * Lemma 2.2 on IEEE 754: raising the top logit never lowers a top output that is 1 (overflow included), and
    the paper's counterexample on binary32, both top outputs exactly 1

    The paper's Lemma 2.2 says raising the top logit by v1 and the rival's by vt > v1 lowers the top output
    (l1 < p1).  On Flocq's IEEE 754 binary32 model ([IEEESoftmax.kernel]: the subtraction of the logits, exp
    correctly rounded, 1 + r and 1 / s each rounded), logits (30, 0) raised by (1, 1.1) to (31, 1.1f), with
    1.1f = 9227469·2^−23 the binary32 value of 1.1, give top outputs exactly 1 and 1: l1 < p1 fails
    ([Lemma22Rounded] proves l1 <= p1 always, and equality once l1 = 1).  Any two finite logits at least 24 and
    at most 64 apart give exactly 1 ([binary32_top_one_far]). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core IEEE754.BinarySingleNaN.
From SoftmaxSat Require Import IEEESoftmax.
Open Scope R_scope.

(** ** Raising the top logit never lowers a top output that is 1, overflow included *)
Section RaiseTop.

Variables prec emax : Z.
Context {prec_gt_0_ : Prec_gt_0 prec} {prec_lt_emax_ : Prec_lt_emax prec emax}.
Hypothesis Hp : (2 <= prec)%Z.
Hypothesis Hemax : (4 <= emax)%Z.

Local Notation rnd := (round radix2 (FLT_exp (3 - emax - prec) prec) ZnearestE).

Lemma B2R_sign_false : forall x : binary_float prec emax, Bsign x = false -> 0 <= B2R x.
Proof. intros [s| | |s m e H] S; simpl in *; try lra. subst s. apply F2R_ge_0. simpl. lia. Qed.

Lemma B2R_sign_true : forall x : binary_float prec emax, Bsign x = true -> B2R x <= 0.
Proof. intros [s| | |s m e H] S; simpl in *; try lra. subst s. apply F2R_le_0. simpl. lia. Qed.

Lemma rounded_exp_mono : forall a b, a <= b -> rnd (exp (rnd a)) <= rnd (exp (rnd b)).
Proof.
  intros a b H. apply round_le; try exact _. assert (R : rnd a <= rnd b) by (apply round_le; try exact _; exact H).
  destruct (Rle_lt_or_eq_dec _ _ R) as [L|E]; [left; apply exp_increasing; exact L | rewrite E; lra].
Qed.

(** x2 <= x1 <= y1: if the kernel's top output is 1 at (x1, x2) without overflow, it is 1 at (y1, x2), whether
    y1 − x2 overflows (the rival's exp is then exp(−∞) = +0) or not. *)
Theorem ieee_raise_top_keeps_one : forall E, exp_spec prec emax E -> forall x1 x2 y1,
  is_finite x1 = true -> is_finite x2 = true -> is_finite y1 = true ->
  B2R x2 <= B2R x1 -> B2R x1 <= B2R y1 ->
  Rabs (rnd (B2R x2 - B2R x1)) < bpow radix2 emax ->
  B2R (fst (kernel prec emax E x1 x2)) = 1 -> B2R (fst (kernel prec emax E y1 x2)) = 1.
Proof.
  intros E HE x1 x2 y1 F1 F2 G1 L21 L11 Ov T.
  apply (ieee_top_one_iff prec emax Hp Hemax E HE x1 x2 F1 F2 L21 Ov) in T.
  pose proof (Bminus_correct prec emax _ _ mode_NE x2 y1 F2 G1) as Bm.
  change (SpecFloat.fexp prec emax) with (FLT_exp (3 - emax - prec) prec) in Bm.
  change (round_mode mode_NE) with ZnearestE in Bm.
  destruct (Rlt_bool_spec (Rabs (rnd (B2R x2 - B2R y1))) (bpow radix2 emax)) as [Lt|Ge].
  - apply (ieee_top_one_iff prec emax Hp Hemax E HE y1 x2 G1 F2 ltac:(lra) Lt).
    apply Rle_trans with (2 := T). apply rounded_exp_mono. lra.
  - destruct Bm as [B S].
    assert (St : Bsign x2 = true).
    { destruct (Bsign x2) eqn:Sx; [reflexivity | exfalso].
      assert (Sy : Bsign y1 = true) by (rewrite <- (Bool.negb_involutive (Bsign y1)), <- S; reflexivity).
      pose proof (B2R_sign_false x2 Sx). pose proof (B2R_sign_true y1 Sy).
      assert (Z : B2R x2 - B2R y1 = 0) by lra. rewrite Z, round_0 in Ge by exact _.
      rewrite Rabs_R0 in Ge. pose proof (bpow_gt_0 radix2 emax). lra. }
    rewrite St in B. unfold binary_overflow in B. simpl in B.
    assert (Inf : Bminus mode_NE x2 y1 = B754_infinity true).
    { destruct (Bminus mode_NE x2 y1); simpl in B; try discriminate. now injection B as ->. }
    exact (proj1 (kernel_overflow_one_zero prec emax E HE y1 x2 Inf)).
Qed.

End RaiseTop.

(** binary32: 24 bits, infinities at exponent 128 (exported: the spec's pins use them). *)
#[export] Instance binary32_prec : Prec_gt_0 24 := eq_refl.
#[export] Instance binary32_emax : Prec_lt_emax 24 128 := eq_refl.
(** 30 = 15728640·2^−19, 31 = 16252928·2^−19, and 1.1 rounded to binary32: 9227469·2^−23. *)
Definition binary32_30 : binary_float 24 128 := @B754_finite 24 128 false 15728640 (-19) eq_refl.
Definition binary32_31 : binary_float 24 128 := @B754_finite 24 128 false 16252928 (-19) eq_refl.
Definition binary32_1_1 : binary_float 24 128 := @B754_finite 24 128 false 9227469 (-23) eq_refl.

(** 2^24 <= e^24, from 2 <= e^1 by squaring (no interval arithmetic: its axioms and its cost stay out). *)
Lemma exp_24_ge : bpow radix2 24 <= exp 24.
Proof.
  pose proof (exp_ineq1_le 1) as E1.
  assert (E2 : 4 <= exp 2) by (replace (exp 2) with (exp 1 * exp 1) by (rewrite <- exp_plus; f_equal; lra); nra).
  assert (E4 : 16 <= exp 4) by (replace (exp 4) with (exp 2 * exp 2) by (rewrite <- exp_plus; f_equal; lra); nra).
  assert (E8 : 256 <= exp 8) by (replace (exp 8) with (exp 4 * exp 4) by (rewrite <- exp_plus; f_equal; lra); nra).
  assert (E16 : 65536 <= exp 16)
    by (replace (exp 16) with (exp 8 * exp 8) by (rewrite <- exp_plus; f_equal; lra); nra).
  replace (exp 24) with (exp 16 * exp 8) by (rewrite <- exp_plus; f_equal; lra). simpl. nra.
Qed.

Lemma binary32_top_one_far : forall E, exp_spec 24 128 E -> forall x1 x2 : binary_float 24 128,
  is_finite x1 = true -> is_finite x2 = true -> B2R x2 + 24 <= B2R x1 -> B2R x1 - B2R x2 <= 64 ->
  B2R (fst (kernel 24 128 E x1 x2)) = 1.
Proof.
  intros E HE x1 x2 F1 F2 H24 H64.
  assert (Hp : (2 <= 24)%Z) by lia. assert (Hm : (4 <= 128)%Z) by lia.
  assert (F24 : generic_format radix2 (FLT_exp (3 - 128 - 24) 24) (- 24)).
  { replace (- 24) with (IZR (-24) * bpow radix2 0) by (simpl; lra).
    apply generic_format_FLT. exists (Float radix2 (-24) 0); simpl; [reflexivity | lia | lia]. }
  assert (F64 : generic_format radix2 (FLT_exp (3 - 128 - 24) 24) (- 64)).
  { replace (- 64) with (IZR (-1) * bpow radix2 6) by (simpl; lra).
    apply generic_format_FLT. exists (Float radix2 (-1) 6); simpl; [reflexivity | lia | lia]. }
  assert (D : round radix2 (FLT_exp (3 - 128 - 24) 24) ZnearestE (B2R x2 - B2R x1) <= - 24)
    by (apply round_le_generic; try exact _; [exact F24 | lra]).
  assert (D' : - 64 <= round radix2 (FLT_exp (3 - 128 - 24) 24) ZnearestE (B2R x2 - B2R x1))
    by (apply round_ge_generic; try exact _; [exact F64 | lra]).
  apply (proj2 (ieee_top_one_iff 24 128 Hp Hm E HE x1 x2 F1 F2 ltac:(lra)
           ltac:(rewrite Rabs_left by lra; apply Rle_lt_trans with 64; [lra | simpl; lra]))).
  apply round_le_generic; try exact _.
  - apply generic_format_bpow. unfold FLT_exp. lia.
  - apply Rle_trans with (exp (- 24)).
    + destruct (Rle_lt_or_eq_dec _ _ D) as [L|Q]; [left; apply exp_increasing; exact L | rewrite Q; lra].
    + replace (exp (- 24)) with (/ exp 24) by (rewrite <- exp_Ropp; f_equal; lra).
      change (- 24)%Z with (- (24))%Z. rewrite bpow_opp.
      apply Rinv_le_contravar; [apply bpow_gt_0 | exact exp_24_ge].
Qed.

Theorem binary32_lemma_2_2_both_one : forall E, exp_spec 24 128 E ->
  B2R (fst (kernel 24 128 E binary32_30 (B754_zero false))) = 1 /\
  B2R (fst (kernel 24 128 E binary32_31 binary32_1_1)) = 1.
Proof.
  intros E HE. split; apply binary32_top_one_far; try exact HE; try reflexivity;
    unfold B2R, binary32_30, binary32_31, binary32_1_1, F2R; simpl; lra.
Qed.
