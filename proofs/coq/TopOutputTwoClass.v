(** * The two-class max-shifted softmax: when the top output is exactly 1, and when the other is 0

    With the rival's rounded exponential r = rnd(exp(-g)) (g >= 0 the gap between the two logits), the
    max-shifted softmax computes the top output rnd(1 / rnd(1 + r)) and the other output
    rnd(r / rnd(1 + r)); the reciprocal form (PyTorch's CPU kernel) rnd(1 · rnd(1 / rnd(1 + r))) and
    rnd(r · rnd(1 / rnd(1 + r))).  Generic in the precision [p >= 2] and [emin <= -p - 1] (FLT, round to nearest
    even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section TwoClass.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_two : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).

(** The two computed outputs, as functions of the rival's rounded exponential [r]. *)
Definition top_output (r : R) : R := round radix2 (FLT_exp emin p) ZnearestE
  (1 / round radix2 (FLT_exp emin p) ZnearestE (1 + r)).
Definition other_output (r : R) : R := round radix2 (FLT_exp emin p) ZnearestE
  (r / round radix2 (FLT_exp emin p) ZnearestE (1 + r)).

Lemma sum_ge_one : forall r, 0 <= r -> 1 <= rnd (1 + r).
Proof.
  intros r Hr. apply round_ge_generic; try exact _. apply format_one; assumption. lra.
Qed.

Theorem top_output_le_one : forall r, 0 <= r -> top_output r <= 1.
Proof.
  intros r Hr. unfold top_output. pose proof (sum_ge_one r Hr) as S.
  apply round_le_generic; try exact _. apply format_one; assumption.
  unfold Rdiv. rewrite Rmult_1_l. apply Rle_trans with (/ 1); [apply Rinv_le_contravar; lra | rewrite Rinv_1; lra].
Qed.

Theorem top_output_eq_one_iff : forall r, 0 <= r -> (top_output r = 1 <-> r <= b).
Proof.
  intros r Hr. unfold top_output. split.
  - intros H. destruct (Rle_or_lt r b) as [Hle|Hgt]; [exact Hle|].
    pose proof (round_one_plus_gt p emin Hp Hemin r Hgt) as G.
    pose proof (round_inv_lt_one p emin Hp Hemin _ G) as I.
    pose proof (pred_one_lt_one p emin Hp Hemin). lra.
  - intros H. rewrite (proj2 (round_one_plus_eq_one_iff p emin Hp Hemin r Hr) H).
    replace (1 / 1) with 1 by field. apply round_generic; try exact _. apply format_one; assumption.
Qed.

Theorem top_output_lt_one_iff : forall r, 0 <= r -> (top_output r < 1 <-> b < r).
Proof.
  intros r Hr. pose proof (top_output_le_one r Hr) as L. pose proof (top_output_eq_one_iff r Hr) as E.
  split; intros H.
  - destruct (Rle_or_lt r b) as [Hle|Hgt]; [|exact Hgt]. apply E in Hle. lra.
  - destruct (Rle_lt_or_eq_dec _ _ L) as [Hlt|Heq]; [exact Hlt|]. apply E in Heq. lra.
Qed.

(** ** exp correctly rounded: the corrected Lemma 2.1 in its IEEE reading *)
Theorem top_one_iff_rounded_exp_le :
  forall g, top_output (rnd (exp (- g))) = 1 <-> rnd (exp (- g)) <= b.
Proof.
  intros g. apply top_output_eq_one_iff.
  apply round_ge_generic; try exact _. apply generic_format_0. left; apply exp_pos.
Qed.

Lemma rounded_exp_nonincreasing : forall g g', g <= g' -> rnd (exp (- g')) <= rnd (exp (- g)).
Proof.
  intros g g' H. apply round_le; try exact _.
  destruct (Rle_lt_or_eq_dec _ _ H) as [Hlt|Heq].
  - left. apply exp_increasing. lra.
  - rewrite Heq. lra.
Qed.

Theorem top_one_stays_one :
  forall g g', g <= g' -> top_output (rnd (exp (- g))) = 1 -> top_output (rnd (exp (- g'))) = 1.
Proof.
  intros g g' H T. apply top_one_iff_rounded_exp_le. apply top_one_iff_rounded_exp_le in T.
  pose proof (rounded_exp_nonincreasing g g' H). lra.
Qed.

(** ** Any rounded exp that is non-negative and non-increasing in the gap *)
Theorem top_one_stays_one_any_exp :
  forall E : R -> R, (forall g, 0 <= E g) -> (forall g g', g <= g' -> E g' <= E g) ->
  forall g g', g <= g' -> top_output (E g) = 1 -> top_output (E g') = 1.
Proof.
  intros E E0 Emono g g' H T. apply top_output_eq_one_iff; [apply E0|].
  apply top_output_eq_one_iff in T; [|apply E0]. specialize (Emono g g' H). lra.
Qed.

(** ** The other output is 0 only once the rounded exponential is 0 *)
Theorem other_output_eq_zero_iff :
  forall r, F r -> 0 <= r <= 1 -> (other_output r = 0 <-> r = 0).
Proof.
  intros r Fr [H0 H1]. unfold other_output. split.
  - intros Z. destruct (Rle_or_lt r b) as [Hle|Hgt].
    + rewrite (proj2 (round_one_plus_eq_one_iff p emin Hp Hemin r H0) Hle) in Z.
      replace (r / 1) with r in Z by field. rewrite round_generic in Z; try exact _; assumption.
    + exfalso.
      assert (S2 : rnd (1 + r) <= 2).
      { apply round_le_generic; try exact _; [|lra].
        apply (format_bpow_small p emin Hp Hemin 1). lia. }
      pose proof (sum_ge_one r H0) as S1.
      assert (B : bpow radix2 (- p - 1) <= r / rnd (1 + r)).
      { replace (- p - 1)%Z with (- p + -1)%Z by lia. rewrite bpow_plus.
        change (bpow radix2 (-1)) with (/ 2).
        apply Rle_trans with (r / 2).
        - lra.
        - unfold Rdiv. apply Rmult_le_compat_l; [lra|]. apply Rinv_le_contravar; lra. }
      assert (R : bpow radix2 (- p - 1) <= rnd (r / rnd (1 + r))).
      { apply round_ge_generic; try exact _; [|exact B].
        apply (format_bpow_small p emin Hp Hemin). lia. }
      pose proof (bpow_gt_0 radix2 (- p - 1)). lra.
  - intros Z. rewrite Z. unfold Rdiv. rewrite Rmult_0_l. apply round_0; exact _.
Qed.

(** ** The reciprocal form (PyTorch's CPU kernel): 1 / s once, then each exponential times it *)
Definition top_output_recip (r : R) : R := round radix2 (FLT_exp emin p) ZnearestE
  (1 * round radix2 (FLT_exp emin p) ZnearestE (1 / round radix2 (FLT_exp emin p) ZnearestE (1 + r))).
Definition other_output_recip (r : R) : R := round radix2 (FLT_exp emin p) ZnearestE
  (r * round radix2 (FLT_exp emin p) ZnearestE (1 / round radix2 (FLT_exp emin p) ZnearestE (1 + r))).

(** Its top output is the division form's, so every theorem above about [top_output] holds for it. *)
Theorem top_output_recip_eq : forall r, top_output_recip r = top_output r.
Proof.
  intros r. unfold top_output_recip, top_output. rewrite Rmult_1_l.
  apply round_generic; try exact _. apply generic_format_round; exact _.
Qed.

(** Its other output, like the division form's, is 0 only once the rounded exponential is 0. *)
Theorem other_output_recip_eq_zero_iff :
  forall r, F r -> 0 <= r <= 1 -> (other_output_recip r = 0 <-> r = 0).
Proof.
  intros r Fr [H0 H1]. unfold other_output_recip. split.
  - intros Z. destruct (Rle_or_lt r b) as [Hle|Hgt].
    + rewrite (proj2 (round_one_plus_eq_one_iff p emin Hp Hemin r H0) Hle) in Z.
      replace (1 / 1) with 1 in Z by field.
      rewrite (round_generic radix2 fexp ZnearestE 1 (format_one p emin Hp Hemin)), Rmult_1_r in Z.
      rewrite round_generic in Z; try exact _; assumption.
    + exfalso.
      assert (S2 : rnd (1 + r) <= 2).
      { apply round_le_generic; try exact _; [|lra]. apply (format_bpow_small p emin Hp Hemin 1). lia. }
      pose proof (sum_ge_one r H0) as S1.
      assert (Half : F (/ 2)).
      { replace (/ 2) with (bpow radix2 (-1)) by reflexivity. apply (format_bpow_small p emin Hp Hemin). lia. }
      assert (I : / 2 <= rnd (1 / rnd (1 + r))).
      { apply round_ge_generic; try exact _; [exact Half|]. unfold Rdiv. rewrite Rmult_1_l.
        apply Rinv_le_contravar; lra. }
      assert (B : bpow radix2 (- p - 1) <= r * rnd (1 / rnd (1 + r))).
      { replace (- p - 1)%Z with (- p + -1)%Z by lia. rewrite bpow_plus.
        change (bpow radix2 (-1)) with (/ 2). pose proof (bpow_gt_0 radix2 (- p)). apply Rmult_le_compat; lra. }
      assert (R : bpow radix2 (- p - 1) <= rnd (r * rnd (1 / rnd (1 + r)))).
      { apply round_ge_generic; try exact _; [|exact B]. apply (format_bpow_small p emin Hp Hemin). lia. }
      pose proof (bpow_gt_0 radix2 (- p - 1)). lra.
  - intros Z. rewrite Z, Rmult_0_l. apply round_0; exact _.
Qed.

Lemma rounded_exp_bounds : forall g, 0 <= g -> 0 <= rnd (exp (- g)) <= 1.
Proof.
  intros g Hg. split.
  - apply round_ge_generic; try exact _. apply generic_format_0. left; apply exp_pos.
  - apply round_le_generic; try exact _. apply format_one; assumption.
    rewrite <- exp_0. destruct (Rle_lt_or_eq_dec _ _ Hg) as [Hlt|Heq].
    + left. apply exp_increasing. lra.
    + rewrite <- Heq, Ropp_0. lra.
Qed.

Theorem other_zero_iff_rounded_exp_zero :
  forall g, 0 <= g -> (other_output (rnd (exp (- g))) = 0 <-> rnd (exp (- g)) = 0).
Proof.
  intros g Hg. apply other_output_eq_zero_iff.
  - apply generic_format_round; exact _.
  - now apply rounded_exp_bounds.
Qed.

Theorem other_recip_zero_iff_rounded_exp_zero :
  forall g, 0 <= g -> (other_output_recip (rnd (exp (- g))) = 0 <-> rnd (exp (- g)) = 0).
Proof.
  intros g Hg. apply other_output_recip_eq_zero_iff.
  - apply generic_format_round; exact _.
  - now apply rounded_exp_bounds.
Qed.

(** ** The window: top output exactly 1 while the other is not yet 0, so the outputs sum to more than 1 *)
Theorem outputs_sum_above_one :
  forall g, 0 <= g -> top_output (rnd (exp (- g))) = 1 -> rnd (exp (- g)) <> 0 ->
  other_output (rnd (exp (- g))) = rnd (exp (- g)) /\
  top_output (rnd (exp (- g))) + other_output (rnd (exp (- g))) > 1.
Proof.
  intros g Hg T Z. pose proof (rounded_exp_bounds g Hg) as [B0 B1].
  apply top_one_iff_rounded_exp_le in T.
  assert (O : other_output (rnd (exp (- g))) = rnd (exp (- g))).
  { unfold other_output. rewrite (proj2 (round_one_plus_eq_one_iff p emin Hp Hemin _ B0) T).
    replace (rnd (exp (- g)) / 1) with (rnd (exp (- g))) by field.
    apply round_generic; try exact _. apply generic_format_round; exact _. }
  split; [exact O|]. rewrite O. rewrite (proj2 (top_one_iff_rounded_exp_le g) T).
  destruct (Rle_lt_or_eq_dec _ _ B0) as [Hlt|Heq]; [lra|]. exfalso; apply Z; auto.
Qed.

Theorem sum_above_one_window_exists :
  exists g, 0 <= g /\ top_output (rnd (exp (- g))) = 1 /\ other_output (rnd (exp (- g))) <> 0.
Proof.
  exists (- ln b). pose proof (b_pos p emin Hp Hemin) as Bp. pose proof (b_le_quarter p emin Hp Hemin) as Bq.
  assert (E : exp (- - ln b) = b) by (rewrite Ropp_involutive; apply exp_ln; exact Bp).
  assert (Rb : rnd b = b) by (apply round_generic; try exact _; apply format_b; assumption).
  split; [|split].
  - assert (ln b <= 0); [|lra]. rewrite <- ln_1. destruct (Rlt_or_le b 1) as [L|L]; [|lra].
    left. apply ln_increasing; lra.
  - rewrite E, Rb. apply top_output_eq_one_iff; lra.
  - rewrite E, Rb. intros Z. assert (b = 0); [|lra].
    apply (other_output_eq_zero_iff b); [apply format_b; assumption | lra | exact Z].
Qed.

End TwoClass.
