(** * rnd(1 + e) = 1 exactly when 0 <= e <= 2^-p

    Radix 2, any precision [p >= 2], FLT exponent (gradual underflow) with [emin <= -p - 1],
    round to nearest, ties to even ([ZnearestE]).  Everything below is generic in [p] and [emin]. *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section RoundOnePlus.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_p : Prec_gt_0 p.
Proof. unfold Prec_gt_0; lia. Qed.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).

Lemma b_pos : 0 < b.
Proof. apply bpow_gt_0. Qed.

Lemma b_le_quarter : b <= / 4.
Proof.
  replace (/ 4) with (bpow radix2 (-2)) by (simpl; lra).
  apply bpow_le; lia.
Qed.

Lemma bpow_succ_p : bpow radix2 (1 - p) = 2 * b.
Proof.
  replace (1 - p)%Z with (1 + - p)%Z by lia.
  rewrite bpow_plus; simpl; lra.
Qed.

Lemma format_bpow_small : forall e, (emin <= e)%Z -> F (bpow radix2 e).
Proof.
  intros e He. apply generic_format_bpow. unfold FLT_exp. lia.
Qed.

Lemma format_one : F 1.
Proof. apply (format_bpow_small 0). lia. Qed.

Lemma format_b : F b.
Proof. apply format_bpow_small. lia. Qed.

Lemma succ_one : succ 1 = 1 + 2 * b.
Proof.
  rewrite succ_eq_pos by lra.
  replace 1 with (bpow radix2 0) at 2 by reflexivity.
  rewrite ulp_bpow, <- bpow_succ_p. do 2 f_equal. unfold FLT_exp. rewrite Z.max_l; lia.
Qed.

Lemma pred_one : pred 1 = 1 - b.
Proof.
  replace 1 with (bpow radix2 0) by reflexivity.
  rewrite pred_bpow. replace (fexp 0) with (- p)%Z by (unfold FLT_exp; rewrite Z.max_l; lia).
  simpl; lra.
Qed.

Lemma format_succ_one : F (succ 1).
Proof. apply generic_format_succ; auto with typeclass_instances. apply format_one. Qed.

Lemma format_pred_one : F (pred 1).
Proof. apply generic_format_pred; auto with typeclass_instances. apply format_one. Qed.

(** Below the midpoint 1 + 2^-p: rounds to 1. *)
Lemma round_one_plus_lt : forall e, 0 <= e < b -> rnd (1 + e) = 1.
Proof.
  intros e [He0 He1]. apply Rle_antisym.
  - apply round_N_le_midp; try exact _. apply format_one. rewrite succ_one. lra.
  - apply round_ge_generic; auto with typeclass_instances. apply format_one. lra.
Qed.

(** The tie 1 + 2^-p: the even neighbour is 1 (its mantissa 2^(p-1) is even). *)
Lemma round_one_plus_tie : rnd (1 + b) = 1.
Proof.
  unfold round, F2R, scaled_mantissa, cexp; simpl.
  assert (Hmag : mag radix2 (1 + b) = 1%Z :> Z).
  { apply mag_unique_pos. pose proof b_pos; pose proof b_le_quarter.
    simpl. lra. }
  rewrite Hmag. unfold FLT_exp. rewrite Z.max_l by lia.
  replace (- (1 - p))%Z with (p - 1)%Z by lia.
  assert (Hm : (1 + b) * bpow radix2 (p - 1) = IZR (2 ^ (p - 1)) + / 2).
  { rewrite Rmult_plus_distr_r, Rmult_1_l, <- bpow_plus.
    replace (- p + (p - 1))%Z with (-1)%Z by lia.
    rewrite <- IZR_Zpower by lia. simpl. lra. }
  rewrite Hm.
  assert (Hfl : Zfloor (IZR (2 ^ (p - 1)) + / 2) = (2 ^ (p - 1))%Z).
  { apply Zfloor_imp. rewrite plus_IZR. simpl. lra. }
  unfold Znearest. rewrite Hfl.
  replace (IZR (2 ^ (p - 1)) + / 2 - IZR (2 ^ (p - 1))) with (/ 2) by ring.
  rewrite Rcompare_Eq by reflexivity.
  rewrite Z.even_pow by lia. change (negb (Z.even 2)) with false. cbv iota.
  change (IZR (2 ^ (p - 1))) with (IZR (Zpower radix2 (p - 1))).
  rewrite (IZR_Zpower radix2 (p - 1)) by lia. rewrite <- bpow_plus.
  replace (p - 1 + (1 - p))%Z with 0%Z by lia. reflexivity.
Qed.

(** Above the midpoint: rounds to at least succ 1 = 1 + 2^(1-p). *)
Lemma round_one_plus_gt : forall e, b < e -> succ 1 <= rnd (1 + e).
Proof.
  intros e He. apply round_N_ge_midp; try exact _.
  - apply format_succ_one.
  - rewrite pred_succ by first [exact _ | apply format_one]. rewrite succ_one. lra.
Qed.

Theorem round_one_plus_eq_one_iff :
  forall e, 0 <= e -> (rnd (1 + e) = 1 <-> e <= b).
Proof.
  intros e He. split.
  - intros H. destruct (Rle_or_lt e b) as [Hle|Hgt]; [exact Hle|].
    pose proof (round_one_plus_gt e Hgt) as G. rewrite H, succ_one in G.
    pose proof b_pos. lra.
  - intros H. destruct (Rle_lt_or_eq_dec e b H) as [Hlt|Heq].
    + now apply round_one_plus_lt.
    + rewrite Heq. apply round_one_plus_tie.
Qed.

(** A sum that rounds above 1 is at least succ 1, and then its reciprocal rounds below 1. *)
Lemma round_inv_lt_one : forall s, succ 1 <= s -> rnd (1 / s) <= pred 1.
Proof.
  intros s Hs. rewrite succ_one in Hs. pose proof b_pos. pose proof b_le_quarter.
  apply round_N_le_midp; try exact _. apply format_pred_one.
  rewrite succ_pred by first [exact _ | apply format_one]. rewrite pred_one.
  apply Rle_lt_trans with (1 / (1 + 2 * b)).
  - apply Rmult_le_compat_l; [lra|]. apply Rinv_le_contravar; lra.
  - apply (Rmult_lt_reg_r (1 + 2 * b)); [lra|].
    unfold Rdiv. rewrite Rmult_1_l, Rinv_l by lra. nra.
Qed.

Lemma pred_one_lt_one : pred 1 < 1.
Proof. rewrite pred_one. pose proof b_pos. lra. Qed.

End RoundOnePlus.
