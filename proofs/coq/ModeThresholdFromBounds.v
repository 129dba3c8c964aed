(** * The two-class threshold in the other rounding modes: from bounds on exp to an exact threshold

    Every operation of the max-shifted kernel (exp, the sum 1 + r, the division 1 / s) rounds in one mode m, so
    the top output is rnd_m(1 / rnd_m(1 + rnd_m(e^-g))).  By [RoundOnePlusModes] it is 1 exactly when the
    rounded exp r is below a bound of the mode: r < 2^-p (nearest, ties away), r < 2^(1-p) (toward zero and
    toward -oo, equal on positive values), r = 0 (toward +oo and to odd: never, e^-g > 0).  The per-format file
    ([ModeThresholds.v], generated from the thresholds the project computes per mode) proves bounds on exp with
    the [interval] tactic and concludes with these lemmas.  Generic in [p >= 2] and [emin <= -p - 1]. *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core Round_odd.
From SoftmaxSat Require Import RoundOnePlus RoundOnePlusModes.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section ModeThresholdFromBounds.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_mode_thr : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd m := (round radix2 fexp m).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).
Local Notation top m g := (rnd m (1 / rnd m (1 + rnd m (exp (- g))))).

Lemma F_b : F b.
Proof. apply format_b; assumption. Qed.

(** In every mode the top output is at most 1 (the sum is at least 1). *)
Lemma top_mode_le_one : forall m { Hm : Valid_rnd m } g, top m g <= 1.
Proof.
  intros m Hm g.
  assert (R0 : 0 <= rnd m (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  assert (S1 : 1 <= rnd m (1 + rnd m (exp (- g)))).
  { apply round_ge_generic; try exact _; [apply format_one; assumption | lra]. }
  apply round_le_generic; try exact _; [apply format_one; assumption|].
  unfold Rdiv. rewrite Rmult_1_l. apply Rle_trans with (/ 1); [apply Rinv_le_contravar; lra | rewrite Rinv_1; lra].
Qed.

Lemma top_mode_lt_one : forall m { Hm : Valid_rnd m } g, top m g <> 1 -> top m g < 1.
Proof. intros m Hm g H. pose proof (top_mode_le_one m g). lra. Qed.

Lemma exp_le_of_gap : forall T g, T <= g -> exp (- g) <= exp (- T).
Proof.
  intros T g H. destruct (Req_dec T g) as [->|N]; [lra|]. left. apply exp_increasing. lra.
Qed.

(** ** Nearest, ties away: the bound is the midpoint below 2^-p *)
Lemma midpoint_below_b : (pred b + b) / 2 = b - bpow radix2 (Z.max (- p - p) emin - 1).
Proof.
  rewrite pred_bpow. replace (Z.max (- p - p) emin - 1)%Z with (fexp (- p) + -1)%Z by (unfold FLT_exp; lia).
  rewrite (bpow_plus radix2 _ (-1)). change (bpow radix2 (-1)) with (/ 2). lra.
Qed.

Theorem top_NA_one_from_gap_of_bound :
  forall T, exp (- T) < b - bpow radix2 (Z.max (- p - p) emin - 1) -> forall g, T <= g -> top ZnearestA g = 1.
Proof.
  intros T HT g Hg.
  assert (R0 : 0 <= rnd ZnearestA (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (proj2 (top_output_NA_eq_one_iff p emin Hp Hemin _ R0)).
  apply Rle_lt_trans with (pred b).
  - apply round_N_le_midp; try exact _.
    + apply generic_format_pred; try exact _. exact F_b.
    + rewrite succ_pred by (exact _ || exact F_b). rewrite midpoint_below_b.
      pose proof (exp_le_of_gap T g Hg). lra.
  - apply pred_lt_id. apply Rgt_not_eq, bpow_gt_0.
Qed.

Theorem top_NA_below_one_of_bound :
  forall g, b - bpow radix2 (Z.max (- p - p) emin - 1) < exp (- g) -> top ZnearestA g < 1.
Proof.
  intros g Hg. apply top_mode_lt_one; [exact _|]. intros H.
  assert (R0 : 0 <= rnd ZnearestA (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (top_output_NA_eq_one_iff p emin Hp Hemin _ R0) in H.
  assert (b <= rnd ZnearestA (exp (- g))); [|lra].
  apply round_N_ge_midp; try exact _; [exact F_b|]. rewrite (Rplus_comm b), midpoint_below_b. exact Hg.
Qed.

(** ** Toward zero and toward -oo: the bound is 2^(1-p), a value of the format *)
Lemma two_b : 2 * b = bpow radix2 (1 - p).
Proof. replace (1 - p)%Z with (1 + - p)%Z by lia. rewrite bpow_plus. reflexivity. Qed.

Lemma F_two_b : F (2 * b).
Proof.
  rewrite two_b. apply generic_format_bpow; try exact _. unfold FLT_exp. lia.
Qed.

Theorem top_DN_one_from_gap_of_bound :
  forall T, exp (- T) < 2 * b -> forall g, T <= g -> top Zfloor g = 1.
Proof.
  intros T HT g Hg.
  assert (R0 : 0 <= rnd Zfloor (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (proj2 (top_output_DN_eq_one_iff p emin Hp Hemin _ R0)).
  destruct (round_DN_pt radix2 fexp (exp (- g))) as [_ [L _]].
  pose proof (exp_le_of_gap T g Hg). lra.
Qed.

Theorem top_DN_below_one_of_bound : forall g, 2 * b < exp (- g) -> top Zfloor g < 1.
Proof.
  intros g Hg. apply top_mode_lt_one; [exact _|]. intros H.
  assert (R0 : 0 <= rnd Zfloor (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (top_output_DN_eq_one_iff p emin Hp Hemin _ R0) in H.
  assert (2 * b <= rnd Zfloor (exp (- g))); [|lra].
  apply round_ge_generic; try exact _; [exact F_two_b | lra].
Qed.

Theorem top_ZR_one_from_gap_of_bound :
  forall T, exp (- T) < 2 * b -> forall g, T <= g -> top Ztrunc g = 1.
Proof.
  intros T HT g Hg.
  assert (R0 : 0 <= rnd Ztrunc (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (proj2 (top_output_ZR_eq_one_iff p emin Hp Hemin _ R0)).
  rewrite round_ZR_DN by (left; apply exp_pos).
  destruct (round_DN_pt radix2 fexp (exp (- g))) as [_ [L _]].
  pose proof (exp_le_of_gap T g Hg). lra.
Qed.

Theorem top_ZR_below_one_of_bound : forall g, 2 * b < exp (- g) -> top Ztrunc g < 1.
Proof.
  intros g Hg. apply top_mode_lt_one; [exact _|]. intros H.
  assert (R0 : 0 <= rnd Ztrunc (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (top_output_ZR_eq_one_iff p emin Hp Hemin _ R0) in H.
  assert (2 * b <= rnd Ztrunc (exp (- g))); [|lra].
  apply round_ge_generic; try exact _; [exact F_two_b | lra].
Qed.

(** ** Toward +oo and to odd: never (e^-g > 0 rounds to a positive value) *)
Theorem top_UP_never_one : forall g, top Zceil g < 1.
Proof.
  intros g. apply top_mode_lt_one; [exact _|]. intros H.
  assert (R0 : 0 <= rnd Zceil (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (top_output_UP_eq_one_iff p emin Hp Hemin _ R0) in H.
  destruct (round_UP_pt radix2 fexp (exp (- g))) as [_ [L _]].
  pose proof (exp_pos (- g)). lra.
Qed.

Theorem top_odd_never_one : forall g, top Zrnd_odd g < 1.
Proof.
  intros g. apply top_mode_lt_one; [exact _|]. intros H.
  assert (R0 : 0 <= rnd Zrnd_odd (exp (- g))).
  { apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  apply (top_output_odd_eq_one_iff p emin Hp Hemin _ R0) in H.
  apply (round_odd_eq_zero_iff p emin Hp Hemin _ (Rlt_le _ _ (exp_pos (- g)))) in H.
  pose proof (exp_pos (- g)). lra.
Qed.

End ModeThresholdFromBounds.
