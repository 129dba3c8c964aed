(** * The two-class threshold in closed form: T* = −ln(2^−p + 2^(max(1 − 2p, emin) − 1))

    Two classes, max-shifted, exp correctly rounded: the top output is exactly 1 at the gap g iff
    g >= T* = −ln m, m = 2^−p + 2^(max(1 − 2p, emin) − 1) the midpoint between 2^−p and its successor (the tie
    e^−g = m rounds to the even 2^−p) ([top_one_iff_gap_ge]).  T* is about p·ln 2 (m = 2^−p (1 + 2^−p) when
    emin <= 1 − 2p).  The per-format threshold T of the format's grid is the least value of the format at or above
    T*: every format value G with pred(G) < T* <= G gives "top output 1 from G on, below 1 at pred(G)"
    ([format_threshold_of_closed_form]), which is what the generated Thresholds_<fmt>.v files state, each from
    two interval bounds.  Generic in [p >= 2] and [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass ThresholdFromBounds.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section ThresholdClosedForm.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_closed : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).
Local Notation c := (Z.max (1 - 2 * p) emin).
Local Notation m := (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)).

Lemma m_pos : 0 < m.
Proof. pose proof (bpow_gt_0 radix2 (- p)). pose proof (bpow_gt_0 radix2 (c - 1)). lra. Qed.

(** The tie: m rounds to the even 2^−p. *)
Lemma round_m : rnd m = b.
Proof.
  unfold round, F2R, scaled_mantissa, cexp; cbn [Fnum Fexp].
  assert (Hmag : mag radix2 m = (1 - p)%Z :> Z).
  { apply mag_unique_pos. replace (1 - p - 1)%Z with (- p)%Z by lia. split.
    - pose proof (bpow_gt_0 radix2 (c - 1)). lra.
    - replace (1 - p)%Z with (1 + - p)%Z by lia. rewrite bpow_plus.
      assert (bpow radix2 (c - 1) < b) by (apply bpow_lt; lia). simpl (bpow radix2 1). lra. }
  rewrite Hmag. unfold FLT_exp. replace (1 - p - p)%Z with (1 - 2 * p)%Z by lia.
  assert (Hm : m * bpow radix2 (- c) = IZR (2 ^ (- p - c)) + / 2).
  { rewrite Rmult_plus_distr_r, <- !bpow_plus.
    replace (c - 1 + - c)%Z with (-1)%Z by lia. replace (- p + - c)%Z with (- p - c)%Z by lia.
    change (IZR (2 ^ (- p - c))) with (IZR (Zpower radix2 (- p - c))).
    rewrite (IZR_Zpower radix2 (- p - c)) by lia. reflexivity. }
  rewrite Hm.
  assert (Hfl : Zfloor (IZR (2 ^ (- p - c)) + / 2) = (2 ^ (- p - c))%Z).
  { apply Zfloor_imp. rewrite plus_IZR. simpl. lra. }
  unfold Znearest. rewrite Hfl.
  replace (IZR (2 ^ (- p - c)) + / 2 - IZR (2 ^ (- p - c))) with (/ 2) by ring.
  rewrite Rcompare_Eq by reflexivity.
  rewrite Z.even_pow by lia. change (negb (Z.even 2)) with false. cbv iota.
  change (IZR (2 ^ (- p - c))) with (IZR (Zpower radix2 (- p - c))).
  rewrite (IZR_Zpower radix2 (- p - c)) by lia. rewrite <- bpow_plus.
  f_equal. lia.
Qed.

(** A non-negative real rounds to at most 2^−p iff it is at most the midpoint m. *)
Lemma round_le_b_iff : forall x, 0 <= x -> (rnd x <= b <-> x <= m).
Proof.
  intros x Hx. pose proof (midpoint_b p emin Hp Hemin) as M. split.
  - intros H. destruct (Rle_or_lt x m) as [Le|Gt]; [exact Le|]. exfalso.
    assert (G : succ b <= rnd x).
    { apply round_N_ge_midp; try exact _.
      - apply generic_format_succ; try exact _. apply format_b; assumption.
      - rewrite pred_succ by first [exact _ | apply format_b; assumption]. rewrite Rplus_comm, M. exact Gt. }
    pose proof (succ_gt_id radix2 fexp b (Rgt_not_eq _ _ (bpow_gt_0 radix2 (- p)))). lra.
  - intros H. destruct (Rle_lt_or_eq_dec _ _ H) as [Lt|Eq].
    + apply round_N_le_midp; try exact _; [apply format_b; assumption | rewrite M; exact Lt].
    + rewrite Eq, round_m. lra.
Qed.

(** ** The closed form *)
Theorem top_one_iff_gap_ge :
  forall g, top_output p emin (rnd (exp (- g))) = 1 <->
  - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= g.
Proof.
  intros g. rewrite (top_one_iff_rounded_exp_le p emin Hp Hemin g).
  rewrite (round_le_b_iff _ (Rlt_le _ _ (exp_pos _))). pose proof m_pos as P.
  rewrite <- (exp_ln m) at 1 by exact P. split.
  - intros H. destruct (Rle_lt_or_eq_dec _ _ H) as [Lt|Eq].
    + apply exp_lt_inv in Lt. lra.
    + apply exp_inv in Eq. lra.
  - intros H. destruct (Rle_lt_or_eq_dec _ _ H) as [Lt|Eq].
    + left. apply exp_increasing. lra.
    + right. f_equal. lra.
Qed.

(** The per-format threshold is the least format value at or above the closed form: from G on the top output is
    1, at pred(G) it is below 1. *)
Theorem format_threshold_of_closed_form :
  forall G, pred G < - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= G ->
  (forall g, G <= g -> top_output p emin (rnd (exp (- g))) = 1) /\
  top_output p emin (rnd (exp (- pred G))) < 1.
Proof.
  intros G [Lo Hi]. split.
  - intros g Hg. apply top_one_iff_gap_ge. lra.
  - assert (R0 : 0 <= rnd (exp (- pred G)))
      by (apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]).
    pose proof (top_output_le_one p emin Hp Hemin _ R0) as L.
    destruct (Rle_lt_or_eq_dec _ _ L) as [Lt|Eq]; [exact Lt|].
    apply top_one_iff_gap_ge in Eq. lra.
Qed.

End ThresholdClosedForm.
