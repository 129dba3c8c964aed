(** * From bounds on exp at two neighbouring gaps to an exact threshold

    The per-format files ([Thresholds_*.v], generated from the thresholds the project computes) prove two
    bounds on exp with the [interval] tactic and conclude with these lemmas: for every gap g >= T the top
    output is exactly 1, and at the predecessor of T it is below 1; likewise for the gap from which the other
    output is exactly 0.  Generic in [p >= 2] and [emin <= -p - 1]. *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section ThresholdFromBounds.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_thr : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).
Local Notation top := (top_output p emin).
Local Notation other := (other_output p emin).

(** The midpoint between 2^-p and its successor. *)
Lemma midpoint_b : (b + succ b) / 2 = b + bpow radix2 (Z.max (1 - 2 * p) emin - 1).
Proof.
  rewrite succ_eq_pos by (left; apply bpow_gt_0). rewrite ulp_bpow.
  replace (Z.max (1 - 2 * p) emin - 1)%Z with (fexp (- p + 1) + -1)%Z by (unfold FLT_exp; lia).
  rewrite (bpow_plus radix2 _ (-1)). change (bpow radix2 (-1)) with (/ 2). lra.
Qed.

Lemma midpoint_0 : (0 + succ 0) / 2 = bpow radix2 (emin - 1).
Proof.
  rewrite succ_0, ulp_FLT_0 by exact _. replace (emin - 1)%Z with (emin + -1)%Z by lia.
  rewrite bpow_plus. change (bpow radix2 (-1)) with (/ 2). lra.
Qed.

Theorem top_one_from_gap_of_bound :
  forall T, exp (- T) < b + bpow radix2 (Z.max (1 - 2 * p) emin - 1) ->
  forall g, T <= g -> top (rnd (exp (- g))) = 1.
Proof.
  intros T HT g Hg. apply (top_one_stays_one p emin Hp Hemin T g Hg).
  apply (top_one_iff_rounded_exp_le p emin Hp Hemin).
  apply round_N_le_midp; try exact _. apply format_b; assumption. rewrite midpoint_b. exact HT.
Qed.

Theorem top_below_one_of_bound :
  forall g, b + bpow radix2 (Z.max (1 - 2 * p) emin - 1) < exp (- g) -> top (rnd (exp (- g))) < 1.
Proof.
  intros g Hg. apply (top_output_lt_one_iff p emin Hp Hemin).
  - apply round_ge_generic; try exact _. apply generic_format_0. left; apply exp_pos.
  - apply Rlt_le_trans with (succ b).
    + apply succ_gt_id. apply Rgt_not_eq, bpow_gt_0.
    + apply round_N_ge_midp; try exact _.
      * apply generic_format_succ; try exact _. apply format_b; assumption.
      * rewrite pred_succ by first [exact _ | apply format_b; assumption].
        rewrite Rplus_comm, midpoint_b. exact Hg.
Qed.

Theorem others_zero_from_gap_of_bound :
  forall T, 0 <= T -> exp (- T) < bpow radix2 (emin - 1) ->
  forall g, T <= g -> rnd (exp (- g)) = 0 /\ other (rnd (exp (- g))) = 0.
Proof.
  intros T HT0 HT g Hg.
  assert (Z : rnd (exp (- g)) = 0).
  { apply Rle_antisym.
    - apply Rle_trans with (rnd (exp (- T))).
      + apply (rounded_exp_nonincreasing p emin Hp Hemin T g Hg).
      + apply round_N_le_midp; try exact _. apply generic_format_0. rewrite midpoint_0. exact HT.
    - apply round_ge_generic; try exact _. apply generic_format_0. left; apply exp_pos. }
  split; [exact Z|]. apply (proj2 (other_zero_iff_rounded_exp_zero p emin Hp Hemin g ltac:(lra)) Z).
Qed.

Theorem others_nonzero_of_bound :
  forall g, 0 <= g -> bpow radix2 (emin - 1) < exp (- g) ->
  bpow radix2 emin <= rnd (exp (- g)) /\ other (rnd (exp (- g))) <> 0.
Proof.
  intros g Hg0 Hg.
  assert (L : bpow radix2 emin <= rnd (exp (- g))).
  { apply round_N_ge_midp; try exact _.
    - apply format_bpow_small; try assumption. lia.
    - rewrite pred_bpow. replace (fexp emin) with emin by (unfold FLT_exp; lia).
      replace (emin - 1)%Z with (emin + -1)%Z in Hg by lia. rewrite bpow_plus in Hg.
      change (bpow radix2 (-1)) with (/ 2) in Hg. lra. }
  split; [exact L|]. intros Z.
  apply (other_zero_iff_rounded_exp_zero p emin Hp Hemin g Hg0) in Z.
  pose proof (bpow_gt_0 radix2 emin). lra.
Qed.

(** A positive value of the format written with a normalized significand, and its successor. *)
Theorem pred_of_normalized :
  forall m e, (2 ^ (p - 1) <= m < 2 ^ p)%Z -> (emin <= e)%Z ->
  F (IZR m * bpow radix2 e) /\ F (IZR (m + 1) * bpow radix2 e) /\
  pred (IZR (m + 1) * bpow radix2 e) = IZR m * bpow radix2 e.
Proof.
  intros m e Hm He.
  assert (Fm : F (IZR m * bpow radix2 e)).
  { apply generic_format_FLT. exists (Float radix2 m e); simpl; [reflexivity | | exact He].
    rewrite Z.abs_eq by lia. exact (proj2 Hm). }
  assert (Mag : mag radix2 (IZR m * bpow radix2 e) = (e + p)%Z :> Z).
  { apply mag_unique_pos. split.
    - replace (e + p - 1)%Z with ((p - 1) + e)%Z by lia. rewrite bpow_plus.
      apply Rmult_le_compat_r; [apply bpow_ge_0|].
      rewrite <- (IZR_Zpower radix2) by lia. apply IZR_le. exact (proj1 Hm).
    - replace (e + p)%Z with (p + e)%Z by lia. rewrite bpow_plus.
      apply Rmult_lt_compat_r; [apply bpow_gt_0|].
      rewrite <- (IZR_Zpower radix2) by lia. apply IZR_lt. exact (proj2 Hm). }
  assert (S : succ (IZR m * bpow radix2 e) = IZR (m + 1) * bpow radix2 e).
  { rewrite succ_eq_pos.
    - rewrite ulp_neq_0.
      + unfold cexp. rewrite Mag. unfold FLT_exp. rewrite Z.max_l by lia.
        replace (e + p - p)%Z with e by lia. rewrite plus_IZR. ring.
      + apply Rgt_not_eq, Rmult_lt_0_compat; [apply IZR_lt; pose proof (Z.pow_pos_nonneg 2 (p - 1)); lia
                                              | apply bpow_gt_0].
    - apply Rmult_le_pos; [apply IZR_le; pose proof (Z.pow_pos_nonneg 2 (p - 1)); lia | apply bpow_ge_0]. }
  split; [exact Fm|]. rewrite <- S. split.
  - apply generic_format_succ; try exact _. exact Fm.
  - apply pred_succ; try exact _. exact Fm.
Qed.

End ThresholdFromBounds.
