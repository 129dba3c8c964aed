(** * The sum > 1 window: on every gap of [T, T0) the two rounded outputs sum to more than 1

    Two classes, max-shifted, exp correctly rounded.  precision.emulated.thresholds.sum_exceeds_one reports
    [T, T0): the format's gaps where the top output is exactly 1 while the other is not yet 0, so the outputs sum to
    1 + r > 1.  In closed form the window is T* <= g < T0* with T* = −ln(2^−p + 2^(max(1 − 2p, emin) − 1)) and
    T0* = −ln(2^emin / 2) ([window_closed_form]), and every real gap there has the outputs summing to more than 1
    ([sum_above_one_closed_form]).  On the format's grid: with T the per-format threshold (top output 1 from T on)
    and T0 a format value where the other output is still nonzero at pred(T0) (the generated Thresholds_<fmt>.v
    theorems), every format gap g with T <= g < T0 has the outputs summing to more than 1
    ([sum_above_one_on_format_window]).  Generic in [p >= 2] and [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus RoundOnePlusModes TopOutputTwoClass ThresholdClosedForm.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section SumAboveOneWindow.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_window : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation pred := (pred radix2 fexp).
Local Notation top := (top_output p emin).
Local Notation other := (other_output p emin).

Lemma rnd_exp_nonneg : forall x, 0 <= rnd (exp x).
Proof. intros x. apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. Qed.

(** ** In closed form *)
Theorem window_closed_form : forall g, 0 <= g ->
  (top (rnd (exp (- g))) = 1 /\ other (rnd (exp (- g))) <> 0 <->
   - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= g < - ln (bpow radix2 emin / 2)).
Proof.
  intros g Hg. rewrite (top_one_iff_gap_ge p emin Hp Hemin g).
  rewrite (other_zero_iff_rounded_exp_zero p emin Hp Hemin g Hg).
  rewrite (round_NE_eq_zero_iff p emin Hp Hemin _ (Rlt_le _ _ (exp_pos _))).
  assert (Q : 0 < bpow radix2 emin / 2) by (pose proof (bpow_gt_0 radix2 emin); lra).
  assert (E : ~ exp (- g) <= bpow radix2 emin / 2 <-> g < - ln (bpow radix2 emin / 2)).
  { rewrite <- (exp_ln _ Q) at 1. split.
    - intros N. apply Rnot_le_lt in N. apply exp_lt_inv in N. lra.
    - intros L N. assert (exp (ln (bpow radix2 emin / 2)) < exp (- g)) by (apply exp_increasing; lra). lra. }
  rewrite E. tauto.
Qed.

Theorem sum_above_one_closed_form : forall g, 0 <= g ->
  - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= g < - ln (bpow radix2 emin / 2) ->
  top (rnd (exp (- g))) + other (rnd (exp (- g))) > 1.
Proof.
  intros g Hg W. apply (window_closed_form g Hg) in W. destruct W as [T O].
  apply (outputs_sum_above_one p emin Hp Hemin g Hg T). intros Z. apply O. rewrite Z.
  unfold other_output. unfold Rdiv. rewrite Rmult_0_l. apply round_0; exact _.
Qed.

(** ** On the format's grid: every gap g of [T, T0) *)
Theorem sum_above_one_on_format_window :
  forall T T0, (forall g, T <= g -> top (rnd (exp (- g))) = 1) -> F T0 -> other (rnd (exp (- pred T0))) <> 0 ->
  forall g, F g -> 0 <= g -> T <= g < T0 ->
  top (rnd (exp (- g))) = 1 /\ other (rnd (exp (- g))) = rnd (exp (- g)) /\
  top (rnd (exp (- g))) + other (rnd (exp (- g))) > 1.
Proof.
  intros T T0 HT F0 HO g Fg Hg [G1 G2].
  assert (Le : g <= pred T0) by (apply pred_ge_gt; try exact _; assumption).
  assert (NZ : rnd (exp (- g)) <> 0).
  { intros Z. apply HO. unfold other_output.
    assert (R0 : rnd (exp (- pred T0)) = 0).
    { apply Rle_antisym; [|apply rnd_exp_nonneg]. rewrite <- Z.
      apply (rounded_exp_nonincreasing p emin Hp Hemin _ _ Le). }
    rewrite R0. unfold Rdiv. rewrite Rmult_0_l. apply round_0; exact _. }
  destruct (outputs_sum_above_one p emin Hp Hemin g Hg (HT g G1) NZ) as [O S].
  split; [exact (HT g G1) | split; [exact O | exact S]].
Qed.

End SumAboveOneWindow.
