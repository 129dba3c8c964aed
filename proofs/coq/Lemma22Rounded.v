(** * Lemma 2.2 in the rounded (FLT and IEEE 754) form, two classes, max-shifted

    Lemma 2.2 raises the top logit by v1 > 0 and the rival's by vt > v1: in real arithmetic the top output drops
    (l1 < p1, [Lemma22Reals.lemma_2_2_two_classes]).  Rounded, with d = x2 − x1 the difference of the logits
    before and d' after (d <= d': the rival's larger rise, as the rounded logits keep it), every step rounded:
    - the top output never increases (l1 <= p1): round and exp are monotone ([lemma_2_2_rounded_no_increase]);
    - once the new top output is 1 the old one is 1 too, so l1 < p1 fails there ([lemma_2_2_rounded_equal_once_one]);
      read the other way, raising the top logit alone never lowers a top output that is 1;
    - before saturation it does drop: logits (2, 0) raised by (1, 2.5), for every p >= 5 (float16, bfloat16,
      float32, float64, ...) ([lemma_2_2_rounded_drops_before_one]).
    The paper's own counterexample on IEEE binary32 (both outputs exactly 1) is in Lemma22IEEE.v.
    Generic in [p >= 2] and [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section Lemma22Rounded.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_l22 : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation top := (top_output p emin).

Lemma rnd_exp_nonneg : forall x, 0 <= rnd (exp x).
Proof. intros x. apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. Qed.

(** The top output is non-increasing in the rival's rounded exponential. *)
Theorem top_output_antitone : forall r r', 0 <= r <= r' -> top r' <= top r.
Proof.
  intros r r' [H0 H1]. unfold top_output. apply round_le; try exact _.
  assert (S : 1 <= rnd (1 + r)) by (apply round_ge_generic; try exact _; [apply format_one; assumption | lra]).
  assert (S' : rnd (1 + r) <= rnd (1 + r')) by (apply round_le; try exact _; lra).
  unfold Rdiv. rewrite !Rmult_1_l. apply Rinv_le_contravar; lra.
Qed.

Lemma rounded_exp_le : forall d d', d <= d' -> rnd (exp (rnd d)) <= rnd (exp (rnd d')).
Proof.
  intros d d' H. apply round_le; try exact _.
  assert (R : rnd d <= rnd d') by (apply round_le; try exact _; exact H).
  destruct (Rle_lt_or_eq_dec _ _ R) as [L|E]; [left; apply exp_increasing; exact L | rewrite E; lra].
Qed.

(** d = x2 − x1 before, d' after, d <= d': the rounded top output does not increase. *)
Theorem lemma_2_2_rounded_no_increase :
  forall d d', d <= d' -> top (rnd (exp (rnd d'))) <= top (rnd (exp (rnd d))).
Proof.
  intros d d' H. apply top_output_antitone. split; [apply rnd_exp_nonneg | apply rounded_exp_le; exact H].
Qed.

(** Once the new top output is 1, so was the old one: l1 = p1 = 1, and l1 < p1 fails. *)
Theorem lemma_2_2_rounded_equal_once_one :
  forall d d', d <= d' -> top (rnd (exp (rnd d'))) = 1 -> top (rnd (exp (rnd d))) = 1.
Proof.
  intros d d' H T. pose proof (lemma_2_2_rounded_no_increase d d' H) as N.
  pose proof (top_output_le_one p emin Hp Hemin _ (rnd_exp_nonneg (rnd d))). lra.
Qed.

(** ** Before saturation the top output drops: logits (2, 0) raised by (1, 2.5) to (3, 2.5), d = −2, d' = −1/2 *)
(** m · 2^e with |m| < 32 is in the format when p >= 5. *)
Lemma format_small : (5 <= p)%Z -> forall m e, (Z.abs m < 32)%Z -> (emin <= e)%Z -> F (IZR m * bpow radix2 e).
Proof.
  intros Hp5 m e Hm He. apply generic_format_FLT. exists (Float radix2 m e); simpl; [reflexivity | | exact He].
  apply Z.lt_le_trans with (2 ^ 5)%Z; [simpl; lia|]. apply Z.pow_le_mono_r; lia.
Qed.

(** Bounds on exp from 1 + x <= e^x alone (no interval arithmetic: its axioms and its cost stay out). *)
Lemma exp_bounds : exp (- 2) <= / 4 /\ / 16 <= exp (- 2) /\ / 2 <= exp (- / 2).
Proof.
  pose proof (exp_ineq1_le 1) as E1. pose proof (exp_ineq1_le (- / 2)) as Eh.
  assert (E2 : exp 2 = exp 1 * exp 1) by (rewrite <- exp_plus; f_equal; lra).
  assert (Em2 : exp (- 2) = exp (- / 2) * exp (- / 2) * (exp (- / 2) * exp (- / 2)))
    by (rewrite <- !exp_plus; f_equal; lra).
  split; [|split; [|lra]].
  - replace (exp (- 2)) with (/ exp 2) by (rewrite <- exp_Ropp; f_equal; lra). rewrite E2. replace (/ 4) with (/ (2 * 2)) by lra. apply Rinv_le_contravar; [lra|].
    apply Rmult_le_compat; lra.
  - rewrite Em2. replace (/ 16) with (/ 2 * / 2 * (/ 2 * / 2)) by lra.
    assert (/ 2 * / 2 <= exp (- / 2) * exp (- / 2)) by (apply Rmult_le_compat; lra).
    apply Rmult_le_compat; lra.
Qed.

Theorem lemma_2_2_rounded_drops_before_one : (5 <= p)%Z ->
  top (rnd (exp (rnd (0 - 2)))) < 1 /\
  top (rnd (exp (rnd (5 / 2 - 3)))) < top (rnd (exp (rnd (0 - 2)))).
Proof.
  intros Hp5. assert (He : (emin <= -6)%Z) by lia.
  assert (Fs : forall m e, (Z.abs m < 32)%Z -> (- 4 <= e)%Z -> F (IZR m * bpow radix2 e))
    by (intros m e Hm He'; apply format_small; [exact Hp5 | exact Hm | lia]).
  assert (Rd : rnd (0 - 2) = - 2).
  { replace (0 - 2) with (IZR (-1) * bpow radix2 1) by (simpl; lra). rewrite round_generic; try exact _.
    - simpl; lra.
    - apply Fs; simpl; lia. }
  assert (Rd' : rnd (5 / 2 - 3) = - / 2).
  { replace (5 / 2 - 3) with (IZR (-1) * bpow radix2 (-1)) by (simpl; lra). rewrite round_generic; try exact _.
    - simpl; lra.
    - apply Fs; simpl; lia. }
  rewrite Rd, Rd'. destruct exp_bounds as [X1 [X2 X3]]. unfold top_output.
  assert (Q : forall m e x, (Z.abs m < 32)%Z -> (- 4 <= e)%Z -> x <= IZR m * bpow radix2 e -> rnd x <= IZR m * bpow radix2 e)
    by (intros m e x Hm He' H; apply round_le_generic; try exact _; [apply Fs; assumption | exact H]).
  assert (Q' : forall m e x, (Z.abs m < 32)%Z -> (- 4 <= e)%Z -> IZR m * bpow radix2 e <= x -> IZR m * bpow radix2 e <= rnd x)
    by (intros m e x Hm He' H; apply round_ge_generic; try exact _; [apply Fs; assumption | exact H]).
  (* before: r = rnd(e^−2) in [1/16, 1/4], s <= 5/4, top >= 3/4 *)
  assert (R1 : rnd (exp (- 2)) <= / 4)
    by (replace (/ 4) with (IZR 1 * bpow radix2 (-2)) by (simpl; lra); apply Q; [simpl; lia | lia | simpl; lra]).
  assert (R0 : / 16 <= rnd (exp (- 2)))
    by (replace (/ 16) with (IZR 1 * bpow radix2 (-4)) by (simpl; lra); apply Q'; [simpl; lia | lia | simpl; lra]).
  assert (S1 : rnd (1 + rnd (exp (- 2))) <= 5 / 4)
    by (replace (5 / 4) with (IZR 5 * bpow radix2 (-2)) by (simpl; lra); apply Q; [simpl; lia | lia | simpl; lra]).
  assert (S0 : 1 <= rnd (1 + rnd (exp (- 2))))
    by (replace 1 with (IZR 1 * bpow radix2 0) by (simpl; lra); apply Q'; [simpl; lia | lia | simpl; lra]).
  assert (P1 : 3 / 4 <= rnd (1 / rnd (1 + rnd (exp (- 2))))).
  { replace (3 / 4) with (IZR 3 * bpow radix2 (-2)) by (simpl; lra). apply Q'; [simpl; lia | lia|].
    apply Rle_trans with (1 / (5 / 4)); [simpl; lra|].
    unfold Rdiv. rewrite !Rmult_1_l. apply Rinv_le_contravar; lra. }
  (* after: r' = rnd(e^−1/2) >= 1/2, s' >= 3/2, top <= 11/16 *)
  assert (R' : / 2 <= rnd (exp (- / 2)))
    by (apply Rle_trans with (IZR 1 * bpow radix2 (-1)); [simpl; lra | apply Q'; [simpl; lia | lia | simpl; lra]]).
  assert (S' : 3 / 2 <= rnd (1 + rnd (exp (- / 2))))
    by (replace (3 / 2) with (IZR 3 * bpow radix2 (-1)) by (simpl; lra); apply Q'; [simpl; lia | lia | simpl; lra]).
  assert (P' : rnd (1 / rnd (1 + rnd (exp (- / 2)))) <= 11 / 16).
  { replace (11 / 16) with (IZR 11 * bpow radix2 (-4)) by (simpl; lra). apply Q; [simpl; lia | lia|].
    apply Rle_trans with (1 / (3 / 2)); [|simpl; lra].
    unfold Rdiv. rewrite !Rmult_1_l. apply Rinv_le_contravar; lra. }
  split; [|lra].
  apply (proj2 (top_output_lt_one_iff p emin Hp Hemin _ (rnd_exp_nonneg _))).
  apply Rlt_le_trans with (2 := R0). replace (/ 16) with (bpow radix2 (-4)) by (simpl; lra).
  apply bpow_lt. lia.
Qed.

End Lemma22Rounded.
