(** * rnd(1 + e) = 1 and rnd(1 - e) = 1 under each deterministic rounding mode

    Radix 2, any precision [p >= 2], FLT exponent (gradual underflow) with [emin <= -p - 1], as in
    RoundOnePlus.v (whose lemmas are reused); b = 2^-p is half the spacing above 1 and the spacing below 1.
    For 0 <= e, the facts precision/emulated/mode_forms.py reads off the grid:
    - rnd(1 + e) = 1 iff e <= b (nearest-even, RoundOnePlus.v), e < b (nearest-away: the tie 1 + b goes up),
      e < 2b (toward zero, toward -oo), e = 0 (toward +oo, to odd: 1 is even);
    - rnd(1 - e) = 1 iff e <= b/2 (both nearest modes: the tie 1 - b/2 goes to the even 1, which is also away
      from zero), e < b (toward +oo), e = 0 (toward zero, toward -oo, to odd);
    - rnd(x) = 0 iff x <= 2^emin / 2 (nearest-even), x < 2^emin / 2 (nearest-away), x < 2^emin (toward zero,
      toward -oo), x = 0 (toward +oo, to odd): a rival's output;
    - two classes: the top output rnd(1 / rnd(1 + r)) is 1 iff rnd(1 + r) = 1, in every mode. *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core Round_odd.
From SoftmaxSat Require Import RoundOnePlus.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section RoundOnePlusModes.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_modes : Prec_gt_0 p.
Proof. unfold Prec_gt_0; lia. Qed.

Local Instance exists_NE_modes : Exists_NE radix2 (FLT_exp emin p).
Proof. apply exists_NE_FLT. right; lia. Qed.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd m := (round radix2 fexp m).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).

(* RoundOnePlus.v's lemmas, at this p and emin. *)
Local Notation Hb := (b_pos p emin Hp Hemin).
Local Notation Hb4 := (b_le_quarter p emin Hp Hemin).
Local Notation F1 := (format_one p emin Hp Hemin).
Local Notation Fsucc1 := (format_succ_one p emin Hp Hemin).
Local Notation Fpred1 := (format_pred_one p emin Hp Hemin).
Local Notation succ1 := (succ_one p emin Hp Hemin).
Local Notation pred1 := (pred_one p emin Hp Hemin).

Lemma pred_succ_one : pred (succ 1) = 1.
Proof. apply pred_succ; try exact _; [exact F1]. Qed.

Lemma succ_pred_one : succ (pred 1) = 1.
Proof. apply succ_pred; try exact _; [exact F1]. Qed.

(** The two neighbours of a point strictly between 1 and 1 + 2b, and of one strictly between 1 - b and 1. *)
Lemma round_DN_UP_above : forall x, 1 < x < 1 + 2 * b -> rnd Zfloor x = 1 /\ rnd Zceil x = 1 + 2 * b.
Proof.
  intros x Hx. split.
  - apply round_DN_eq; try exact _; [exact F1|]. rewrite succ1. lra.
  - rewrite <- succ1. apply round_UP_eq; try exact _; [exact Fsucc1|]. rewrite pred_succ_one, succ1. lra.
Qed.

Lemma round_DN_UP_below : forall x, 1 - b < x < 1 -> rnd Zfloor x = 1 - b /\ rnd Zceil x = 1.
Proof.
  intros x Hx. split.
  - rewrite <- pred1. apply round_DN_eq; try exact _; [exact Fpred1|]. rewrite succ_pred_one, pred1. lra.
  - apply round_UP_eq; try exact _; [exact F1|]. rewrite pred1. lra.
Qed.

Lemma Zfloor_scaled_mantissa_nonneg : forall x, 0 <= x -> (0 <= Zfloor (scaled_mantissa radix2 fexp x))%Z.
Proof.
  intros x Hx. apply Zfloor_lub. unfold scaled_mantissa.
  apply Rmult_le_pos; [exact Hx | apply bpow_ge_0].
Qed.

(** Round-to-odd never gives 1 from anything but 1: its result is the value itself or has an odd mantissa, and
    1's canonical mantissa 2^(p-1) is even. *)
Lemma round_odd_eq_one : forall x, rnd Zrnd_odd x = 1 -> x = 1.
Proof.
  intros x H. destruct (round_odd_pt radix2 fexp x) as [_ [Hx | [_ [g [Hg [Hc Hodd]]]]]]; [lra|].
  exfalso. rewrite H in Hg. unfold canonical in Hc. rewrite <- Hg in Hc.
  assert (Hc1 : cexp radix2 fexp 1 = (1 - p)%Z).
  { unfold cexp. replace 1 with (bpow radix2 0) by reflexivity. rewrite mag_bpow.
    unfold FLT_exp. rewrite Z.max_l; lia. }
  rewrite Hc1 in Hc. destruct g as [m ex]. simpl in Hc, Hodd. subst ex.
  assert (Hm : IZR m = IZR (2 ^ (p - 1))).
  { unfold F2R in Hg; simpl in Hg.
    change (IZR (2 ^ (p - 1))) with (IZR (Zpower radix2 (p - 1))).
    rewrite (IZR_Zpower radix2 (p - 1)) by lia.
    apply (Rmult_eq_reg_r (bpow radix2 (1 - p))); [|apply Rgt_not_eq, bpow_gt_0].
    rewrite <- bpow_plus. replace (p - 1 + (1 - p))%Z with 0%Z by lia. simpl. lra. }
  apply eq_IZR in Hm. rewrite Hm, Z.even_pow in Hodd by lia. discriminate.
Qed.

(** ** Above 1: rnd(1 + e) = 1 *)

(** Nearest, either tie rule: below the midpoint 1 + b the sum rounds to 1, above it to at least 1 + 2b. *)
Lemma round_N_one_plus_lt : forall choice e, 0 <= e < b -> rnd (Znearest choice) (1 + e) = 1.
Proof.
  intros choice e He. apply Rle_antisym.
  - apply round_N_le_midp; try exact _; [exact F1|]. rewrite succ1. lra.
  - apply round_ge_generic; try exact _; [exact F1 | lra].
Qed.

Lemma round_N_one_plus_gt : forall choice e, b < e -> succ 1 <= rnd (Znearest choice) (1 + e).
Proof.
  intros choice e He. apply round_N_ge_midp; try exact _; [exact Fsucc1|]. rewrite pred_succ_one, succ1. lra.
Qed.

Theorem round_NA_one_plus_eq_one_iff :
  forall e, 0 <= e -> (rnd ZnearestA (1 + e) = 1 <-> e < b).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. destruct (Rlt_le_dec e b) as [Hlt|Hge]; [exact Hlt|]. exfalso.
    destruct (Rle_lt_or_eq_dec b e Hge) as [Hgt|Heq].
    + pose proof (round_N_one_plus_gt (Zle_bool 0) e Hgt) as G. rewrite H, succ1 in G. lra.
    + subst e. destruct (round_DN_UP_above (1 + b)) as [Hd Hu]; [lra|].
      rewrite round_N_middle in H by (rewrite Hd, Hu; lra).
      rewrite (Zle_imp_le_bool _ _ (Zfloor_scaled_mantissa_nonneg (1 + b) ltac:(lra))), Hu in H. lra.
  - intros H. apply round_N_one_plus_lt. lra.
Qed.

(** Toward -oo and toward zero: 1 until the sum reaches the next value 1 + 2b. *)
Theorem round_DN_one_plus_eq_one_iff :
  forall e, 0 <= e -> (rnd Zfloor (1 + e) = 1 <-> e < 2 * b).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. destruct (Rlt_le_dec e (2 * b)) as [Hlt|Hge]; [exact Hlt|]. exfalso.
    assert (G : succ 1 <= rnd Zfloor (1 + e))
      by (apply round_ge_generic; try exact _; [exact Fsucc1 | rewrite succ1; lra]).
    rewrite H, succ1 in G. lra.
  - intros H. apply round_DN_eq; try exact _; [exact F1|]. rewrite succ1. lra.
Qed.

Theorem round_ZR_one_plus_eq_one_iff :
  forall e, 0 <= e -> (rnd Ztrunc (1 + e) = 1 <-> e < 2 * b).
Proof.
  intros e He. rewrite round_ZR_DN by lra. now apply round_DN_one_plus_eq_one_iff.
Qed.

(** Toward +oo: any e > 0 lifts the sum above 1. *)
Theorem round_UP_one_plus_eq_one_iff :
  forall e, 0 <= e -> (rnd Zceil (1 + e) = 1 <-> e = 0).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. destruct (round_UP_pt radix2 fexp (1 + e)) as [_ [Hle _]]. rewrite H in Hle. lra.
  - intros ->. rewrite Rplus_0_r. apply round_generic; try exact _; [exact F1].
Qed.

(** To odd: 1 is even, so any e > 0 goes to the odd neighbour 1 + 2b. *)
Theorem round_odd_one_plus_eq_one_iff :
  forall e, 0 <= e -> (rnd Zrnd_odd (1 + e) = 1 <-> e = 0).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. apply round_odd_eq_one in H. lra.
  - intros ->. rewrite Rplus_0_r. apply round_generic; try exact _; [exact F1].
Qed.

(** ** Below 1: rnd(1 - e) = 1 (the exact softmax rounded once) *)

(** The tie 1 - b/2 between 1 - b and 1: its scaled mantissa is 2^p - 1/2, whose floor 2^p - 1 is odd and
    non-negative, so both nearest modes take the ceiling 1. *)
Lemma Zfloor_scaled_mantissa_tie_below : Zfloor (scaled_mantissa radix2 fexp (1 - b / 2)) = (2 ^ p - 1)%Z.
Proof.
  pose proof Hb as Hb0. pose proof Hb4 as Hb1. unfold scaled_mantissa, cexp.
  assert (Hmag : mag radix2 (1 - b / 2) = 0%Z :> Z).
  { apply mag_unique_pos. replace (0 - 1)%Z with (-1)%Z by lia. simpl. lra. }
  rewrite Hmag. unfold FLT_exp. rewrite Z.max_l by lia. replace (- (0 - p))%Z with p by lia.
  apply Zfloor_imp. rewrite minus_IZR, plus_IZR, minus_IZR.
  change (IZR (2 ^ p)) with (IZR (Zpower radix2 p)). rewrite (IZR_Zpower radix2 p) by lia.
  assert (Hbp : b * bpow radix2 p = 1) by (rewrite <- bpow_plus; replace (- p + p)%Z with 0%Z by lia; reflexivity).
  pose proof (bpow_gt_0 radix2 p). simpl. nra.
Qed.

Lemma round_N_one_minus_eq_one_iff :
  forall choice, choice (2 ^ p - 1)%Z = true ->
  forall e, 0 <= e -> (rnd (Znearest choice) (1 - e) = 1 <-> e <= b / 2).
Proof.
  intros choice Hc e He. pose proof Hb as Hb0. split.
  - intros H. destruct (Rle_lt_dec e (b / 2)) as [Hle|Hgt]; [exact Hle|]. exfalso.
    assert (G : rnd (Znearest choice) (1 - e) <= pred 1).
    { apply round_N_le_midp; try exact _; [exact Fpred1|]. rewrite succ_pred_one, pred1. lra. }
    rewrite H, pred1 in G. lra.
  - intros H. destruct (Rle_lt_or_eq_dec e (b / 2) H) as [Hlt|Heq].
    + apply Rle_antisym; [apply round_le_generic; try exact _; [exact F1 | lra]|].
      apply round_N_ge_midp; try exact _; [exact F1|]. rewrite pred1. lra.
    + subst e. destruct (round_DN_UP_below (1 - b / 2)) as [Hd Hu]; [lra|].
      rewrite round_N_middle by (rewrite Hd, Hu; lra).
      now rewrite Zfloor_scaled_mantissa_tie_below, Hc.
Qed.

Theorem round_NE_one_minus_eq_one_iff :
  forall e, 0 <= e -> (rnd ZnearestE (1 - e) = 1 <-> e <= b / 2).
Proof.
  apply round_N_one_minus_eq_one_iff.
  rewrite Z.even_sub, Z.even_pow by lia. reflexivity.
Qed.

Theorem round_NA_one_minus_eq_one_iff :
  forall e, 0 <= e -> (rnd ZnearestA (1 - e) = 1 <-> e <= b / 2).
Proof.
  apply round_N_one_minus_eq_one_iff. apply Zle_imp_le_bool.
  assert (0 < 2 ^ p)%Z by (apply Z.pow_pos_nonneg; lia). lia.
Qed.

(** Toward +oo: 1 from just above 1 - b (the value below 1). *)
Theorem round_UP_one_minus_eq_one_iff :
  forall e, 0 <= e -> (rnd Zceil (1 - e) = 1 <-> e < b).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. destruct (Rlt_le_dec e b) as [Hlt|Hge]; [exact Hlt|]. exfalso.
    assert (G : rnd Zceil (1 - e) <= pred 1)
      by (apply round_le_generic; try exact _; [exact Fpred1 | rewrite pred1; lra]).
    rewrite H, pred1 in G. lra.
  - intros H. apply round_UP_eq; try exact _; [exact F1|]. rewrite pred1. lra.
Qed.

(** Toward -oo, toward zero and to odd: never 1 from below. *)
Theorem round_DN_one_minus_eq_one_iff :
  forall e, 0 <= e -> (rnd Zfloor (1 - e) = 1 <-> e = 0).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. destruct (round_DN_pt radix2 fexp (1 - e)) as [_ [Hle _]]. rewrite H in Hle. lra.
  - intros ->. rewrite Rminus_0_r. apply round_generic; try exact _; [exact F1].
Qed.

Theorem round_ZR_one_minus_eq_one_iff :
  forall e, 0 <= e -> (rnd Ztrunc (1 - e) = 1 <-> e = 0).
Proof.
  intros e He. destruct (Rle_lt_dec 0 (1 - e)) as [Hpos|Hneg].
  - rewrite round_ZR_DN by exact Hpos. now apply round_DN_one_minus_eq_one_iff.
  - split; [|lra]. intros H.
    assert (G : rnd Ztrunc (1 - e) <= 0) by (apply round_le_generic; try exact _; [apply generic_format_0 | lra]).
    lra.
Qed.

Theorem round_odd_one_minus_eq_one_iff :
  forall e, 0 <= e -> (rnd Zrnd_odd (1 - e) = 1 <-> e = 0).
Proof.
  intros e He. pose proof Hb as Hb0. split.
  - intros H. apply round_odd_eq_one in H. lra.
  - intros ->. rewrite Rminus_0_r. apply round_generic; try exact _; [exact F1].
Qed.

(** ** A rival's output rnd(x) = 0 (x >= 0): Z, the bound of mode_forms.py, with sigma = 2^emin the smallest
    subnormal: sigma/2 (nearest; its tie goes to the even 0, or away to sigma), sigma (toward zero, toward -oo),
    none (toward +oo, to odd) *)

Local Notation sigma := (bpow radix2 emin).

Lemma succ_zero : succ 0 = sigma.
Proof. rewrite succ_0. apply ulp_FLT_0; exact _. Qed.

Lemma pred_sigma : pred sigma = 0.
Proof.
  rewrite pred_bpow. unfold FLT_exp. rewrite Z.max_r by lia. ring.
Qed.

Lemma format_sigma : F sigma.
Proof. apply generic_format_bpow. unfold FLT_exp. lia. Qed.

Lemma round_DN_UP_tiny : forall x, 0 < x < sigma -> rnd Zfloor x = 0 /\ rnd Zceil x = sigma.
Proof.
  intros x Hx. split.
  - apply round_DN_eq; try exact _; [apply generic_format_0|]. rewrite succ_zero. lra.
  - apply round_UP_eq; try exact _; [exact format_sigma|]. rewrite pred_sigma. lra.
Qed.

(** The tie sigma/2: its scaled mantissa is 1/2. *)
Lemma Zfloor_scaled_mantissa_tie_zero : Zfloor (scaled_mantissa radix2 fexp (sigma / 2)) = 0%Z.
Proof.
  pose proof (bpow_gt_0 radix2 emin) as Hs. unfold scaled_mantissa, cexp.
  assert (Hmag : mag radix2 (sigma / 2) = emin :> Z).
  { apply mag_unique_pos. unfold Zminus. rewrite bpow_plus. simpl. lra. }
  rewrite Hmag. unfold FLT_exp. rewrite Z.max_r by lia.
  apply Zfloor_imp. unfold Rdiv. rewrite Rmult_assoc, (Rmult_comm (/ 2)), <- Rmult_assoc, <- bpow_plus.
  replace (emin + - emin)%Z with 0%Z by lia. simpl. lra.
Qed.

Lemma round_N_eq_zero_iff :
  forall choice x, 0 <= x -> x <> sigma / 2 -> (rnd (Znearest choice) x = 0 <-> x < sigma / 2).
Proof.
  intros choice x Hx Hne. pose proof (bpow_gt_0 radix2 emin) as Hs. split.
  - intros H. destruct (Rlt_le_dec x (sigma / 2)) as [Hlt|Hge]; [exact Hlt|]. exfalso.
    assert (G : sigma <= rnd (Znearest choice) x).
    { apply round_N_ge_midp; try exact _; [exact format_sigma|]. rewrite pred_sigma. lra. }
    lra.
  - intros H. apply Rle_antisym.
    + apply round_N_le_midp; try exact _; [apply generic_format_0|]. rewrite succ_zero. lra.
    + apply round_ge_generic; try exact _; [apply generic_format_0 | lra].
Qed.

Lemma round_N_tie_zero : forall choice,
  rnd (Znearest choice) (sigma / 2) = if choice 0%Z then sigma else 0.
Proof.
  intros choice. pose proof (bpow_gt_0 radix2 emin) as Hs.
  destruct (round_DN_UP_tiny (sigma / 2)) as [Hd Hu]; [lra|].
  rewrite round_N_middle by (rewrite Hd, Hu; lra).
  now rewrite Zfloor_scaled_mantissa_tie_zero, Hd, Hu.
Qed.

Theorem round_NE_eq_zero_iff :
  forall x, 0 <= x -> (rnd ZnearestE x = 0 <-> x <= bpow radix2 emin / 2).
Proof.
  intros x Hx. destruct (Req_dec x (sigma / 2)) as [->|Hne].
  - rewrite round_N_tie_zero. simpl. lra.
  - rewrite round_N_eq_zero_iff by assumption. lra.
Qed.

Theorem round_NA_eq_zero_iff :
  forall x, 0 <= x -> (rnd ZnearestA x = 0 <-> x < bpow radix2 emin / 2).
Proof.
  intros x Hx. destruct (Req_dec x (sigma / 2)) as [->|Hne].
  - rewrite round_N_tie_zero. simpl. pose proof (bpow_gt_0 radix2 emin). lra.
  - now apply round_N_eq_zero_iff.
Qed.

Theorem round_DN_eq_zero_iff :
  forall x, 0 <= x -> (rnd Zfloor x = 0 <-> x < bpow radix2 emin).
Proof.
  intros x Hx. split.
  - intros H. destruct (Rlt_le_dec x sigma) as [Hlt|Hge]; [exact Hlt|]. exfalso.
    assert (G : sigma <= rnd Zfloor x) by (apply round_ge_generic; try exact _; [exact format_sigma | lra]).
    pose proof (bpow_gt_0 radix2 emin). lra.
  - intros H. apply round_DN_eq; try exact _; [apply generic_format_0|]. rewrite succ_zero. lra.
Qed.

Theorem round_ZR_eq_zero_iff :
  forall x, 0 <= x -> (rnd Ztrunc x = 0 <-> x < bpow radix2 emin).
Proof.
  intros x Hx. rewrite round_ZR_DN by exact Hx. now apply round_DN_eq_zero_iff.
Qed.

Theorem round_UP_eq_zero_iff :
  forall x, 0 <= x -> (rnd Zceil x = 0 <-> x = 0).
Proof.
  intros x Hx. split.
  - intros H. destruct (round_UP_pt radix2 fexp x) as [_ [Hle _]]. rewrite H in Hle. lra.
  - intros ->. apply round_0; exact _.
Qed.

(** To odd: 0's mantissa is even, so only 0 itself rounds to 0. *)
Theorem round_odd_eq_zero_iff :
  forall x, 0 <= x -> (rnd Zrnd_odd x = 0 <-> x = 0).
Proof.
  intros x Hx. split.
  - intros H. destruct (round_odd_pt radix2 fexp x) as [_ [Hx0 | [_ [[m ex] [Hg [_ Hodd]]]]]]; [lra|].
    exfalso. rewrite H in Hg. symmetry in Hg. apply eq_0_F2R in Hg. simpl in Hodd. subst m. discriminate.
  - intros ->. apply round_0; exact _.
Qed.

(** ** Two classes, max-shifted: the top output rnd(1 / rnd(1 + r)) is 1 exactly when the sum is 1 *)

(** In every mode: a sum above 1 is at least 1 + 2b, its reciprocal at most 1/(1 + 2b) < 1 - b, which rounds
    to at most 1 - b. *)
Lemma top_output_eq_one_iff_sum_one :
  forall m { Hm : Valid_rnd m } r, 0 <= r -> (rnd m (1 / rnd m (1 + r)) = 1 <-> rnd m (1 + r) = 1).
Proof.
  intros m Hm r Hr. split.
  - intros H. destruct (Req_dec (rnd m (1 + r)) 1) as [Heq|Hne]; [exact Heq|]. exfalso.
    assert (Hs1 : 1 <= rnd m (1 + r)) by (apply round_ge_generic; try exact _; [exact F1 | lra]).
    assert (Hs : succ 1 <= rnd m (1 + r)).
    { apply succ_le_lt; try exact _; [exact F1 | apply generic_format_round; exact _ | lra]. }
    rewrite succ1 in Hs. pose proof Hb. pose proof Hb4.
    assert (G : rnd m (1 / rnd m (1 + r)) <= pred 1).
    { apply round_le_generic; try exact _; [exact Fpred1|]. rewrite pred1.
      apply Rle_trans with (1 / (1 + 2 * b)).
      - apply Rmult_le_compat_l; [lra|]. apply Rinv_le_contravar; lra.
      - apply (Rmult_le_reg_r (1 + 2 * b)); [lra|].
        unfold Rdiv. rewrite Rmult_1_l, Rinv_l by lra. nra. }
    rewrite H, pred1 in G. lra.
  - intros ->. replace (1 / 1) with 1 by field. apply round_generic; try exact _; [exact F1].
Qed.

Theorem top_output_NE_eq_one_iff :
  forall r, 0 <= r -> (rnd ZnearestE (1 / rnd ZnearestE (1 + r)) = 1 <-> r <= b).
Proof.
  intros r Hr. rewrite top_output_eq_one_iff_sum_one by (exact _ || exact Hr).
  exact (round_one_plus_eq_one_iff p emin Hp Hemin r Hr).
Qed.

Theorem top_output_NA_eq_one_iff :
  forall r, 0 <= r -> (rnd ZnearestA (1 / rnd ZnearestA (1 + r)) = 1 <-> r < b).
Proof.
  intros r Hr. rewrite top_output_eq_one_iff_sum_one by (exact _ || exact Hr).
  now apply round_NA_one_plus_eq_one_iff.
Qed.

Theorem top_output_DN_eq_one_iff :
  forall r, 0 <= r -> (rnd Zfloor (1 / rnd Zfloor (1 + r)) = 1 <-> r < 2 * b).
Proof.
  intros r Hr. rewrite top_output_eq_one_iff_sum_one by (exact _ || exact Hr).
  now apply round_DN_one_plus_eq_one_iff.
Qed.

Theorem top_output_ZR_eq_one_iff :
  forall r, 0 <= r -> (rnd Ztrunc (1 / rnd Ztrunc (1 + r)) = 1 <-> r < 2 * b).
Proof.
  intros r Hr. rewrite top_output_eq_one_iff_sum_one by (exact _ || exact Hr).
  now apply round_ZR_one_plus_eq_one_iff.
Qed.

Theorem top_output_UP_eq_one_iff :
  forall r, 0 <= r -> (rnd Zceil (1 / rnd Zceil (1 + r)) = 1 <-> r = 0).
Proof.
  intros r Hr. rewrite top_output_eq_one_iff_sum_one by (exact _ || exact Hr).
  now apply round_UP_one_plus_eq_one_iff.
Qed.

Theorem top_output_odd_eq_one_iff :
  forall r, 0 <= r -> (rnd Zrnd_odd (1 / rnd Zrnd_odd (1 + r)) = 1 <-> r = 0).
Proof.
  intros r Hr. rewrite top_output_eq_one_iff_sum_one by (exact _ || exact Hr).
  now apply round_odd_one_plus_eq_one_iff.
Qed.

End RoundOnePlusModes.
