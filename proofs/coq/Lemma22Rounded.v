(** * Lemma 2.2 in the rounded (FLT and IEEE 754) form, two classes, max-shifted

    Lemma 2.2 raises the top logit by v1 > 0 and the rival's by vt > v1: in real arithmetic the top output drops
    (l1 < p1, [Lemma22Reals.lemma_2_2_two_classes]).  Rounded, with d = x2 − x1 the difference of the logits
    before and d' after (d <= d': the rival's larger rise, as the rounded logits keep it), every step rounded:
    - the top output never increases (l1 <= p1): round and exp are monotone ([lemma_2_2_rounded_no_increase]);
    - once the new top output is 1 the old one is 1 too, so l1 < p1 fails there ([lemma_2_2_rounded_equal_once_one]);
      read the other way, raising the top logit alone never lowers a top output that is 1;
    - before saturation it does drop: logits (1, 0) raised by (1, 1.5), for every p >= 6 (float16, bfloat16,
      float32, float64, ...) ([lemma_2_2_rounded_drops_before_one]).
    The paper's own counterexample on IEEE binary32 (both outputs exactly 1) is in Lemma22IEEE.v.
    Generic in [p >= 2] and [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From Interval Require Import Tactic.
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

(** ** Before saturation the top output drops: logits (1, 0) raised by (1, 1.5) to (2, 1.5), d = −1, d' = −1/2 *)
(** m · 2^e with 0 <= m < 64 is in the format. *)
Lemma format_small : (6 <= p)%Z -> forall m e, (0 <= m < 64)%Z -> (emin <= e)%Z -> F (IZR m * bpow radix2 e).
Proof.
  intros Hp6 m e Hm He. apply generic_format_FLT. exists (Float radix2 m e); simpl; [reflexivity | | exact He].
  rewrite Z.abs_eq by lia. apply Z.lt_le_trans with (2 ^ 6)%Z; [simpl; lia|].
  apply Z.pow_le_mono_r; lia.
Qed.

Lemma bpow_m3 : bpow radix2 (-3) = / 8. Proof. simpl. lra. Qed.
Lemma bpow_m5 : bpow radix2 (-5) = / 32. Proof. simpl. lra. Qed.

Theorem lemma_2_2_rounded_drops_before_one : (6 <= p)%Z ->
  top (rnd (exp (rnd (0 - 1)))) < 1 /\
  top (rnd (exp (rnd (IZR 3 / 2 - 2)))) < top (rnd (exp (rnd (0 - 1)))).
Proof.
  intros Hp6. assert (He3 : (emin <= -3)%Z) by lia. assert (He5 : (emin <= -5)%Z) by lia.
  assert (Rm1 : rnd (0 - 1) = - 1).
  { replace (0 - 1) with (- 1) by ring. apply round_generic; try exact _.
    replace (- 1) with (IZR (-1) * bpow radix2 0) by (simpl; lra).
    apply generic_format_FLT. exists (Float radix2 (-1) 0); simpl; [reflexivity | | lia].
    apply Z.lt_le_trans with (2 ^ 6)%Z; [simpl; lia | apply Z.pow_le_mono_r; lia]. }
  assert (Rh : rnd (IZR 3 / 2 - 2) = - / 2).
  { replace (IZR 3 / 2 - 2) with (- / 2) by (simpl; lra). apply round_generic; try exact _.
    replace (- / 2) with (IZR (-1) * bpow radix2 (-1)) by (simpl; lra).
    apply generic_format_FLT. exists (Float radix2 (-1) (-1)); simpl; [reflexivity | | lia].
    apply Z.lt_le_trans with (2 ^ 6)%Z; [simpl; lia | apply Z.pow_le_mono_r; lia]. }
  rewrite Rm1, Rh. unfold top_output.
  (* before: r = rnd(e^-1) in [1/4, 3/8], s <= 11/8, top >= 23/32 *)
  assert (R1 : rnd (exp (- 1)) <= IZR 3 * bpow radix2 (-3)).
  { apply round_le_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. rewrite bpow_m3. interval. }
  assert (R0 : IZR 1 * bpow radix2 (-2) <= rnd (exp (- 1))).
  { apply round_ge_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. simpl bpow. interval. }
  assert (S1 : rnd (1 + rnd (exp (- 1))) <= IZR 11 * bpow radix2 (-3)).
  { apply round_le_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. rewrite bpow_m3 in *. lra. }
  assert (S0 : 1 <= rnd (1 + rnd (exp (- 1)))).
  { apply round_ge_generic; try exact _; [apply format_one; [lia | exact Hemin] |]. pose proof (rnd_exp_nonneg (- 1)). lra. }
  assert (P1 : IZR 23 * bpow radix2 (-5) <= rnd (1 / rnd (1 + rnd (exp (- 1))))).
  { apply round_ge_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. rewrite bpow_m5. rewrite bpow_m3 in S1.
    apply Rle_trans with (1 / (IZR 11 / 8)); [lra|].
    unfold Rdiv. rewrite !Rmult_1_l. apply Rinv_le_contravar; lra. }
  (* after: r' = rnd(e^-1/2) >= 19/32, s' >= 51/32, top <= 21/32 *)
  assert (R' : IZR 19 * bpow radix2 (-5) <= rnd (exp (- / 2))).
  { apply round_ge_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. rewrite bpow_m5. interval. }
  assert (S' : IZR 51 * bpow radix2 (-5) <= rnd (1 + rnd (exp (- / 2)))).
  { apply round_ge_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. rewrite bpow_m5 in *. lra. }
  assert (P' : rnd (1 / rnd (1 + rnd (exp (- / 2)))) <= IZR 21 * bpow radix2 (-5)).
  { apply round_le_generic; try exact _; [apply format_small; [exact Hp6 | lia | lia]|]. rewrite bpow_m5 in *.
    apply Rle_trans with (1 / (IZR 51 / 32)); [|lra].
    unfold Rdiv. rewrite !Rmult_1_l. apply Rinv_le_contravar; lra. }
  split.
  - apply (proj2 (top_output_lt_one_iff p emin Hp Hemin _ (rnd_exp_nonneg _))).
    apply Rlt_le_trans with (2 := R0). rewrite Rmult_1_l. apply bpow_lt. lia.
  - unfold top_output in *. rewrite bpow_m5 in *. lra.
Qed.

End Lemma22Rounded.
