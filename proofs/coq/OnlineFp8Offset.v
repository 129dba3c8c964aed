(** * The FP8 attention constraint (flash-attention#2716/#2717), generic in the format's maximum M.

    An online softmax forms P = 2^(d + offset) where d <= tau: the running max moves only when a score exceeds it by
    more than tau (log2 units).  If offset + tau <= log2 M, no such P exceeds M, so the cast to the FP8 format never
    clips; if offset + tau > log2 M, some P does (d = tau).  Instance: e4m3 (M = 448), offset 8, tau 4. *)
From Coq Require Import Reals Lra.
Open Scope R_scope.

Definition pow2 (x : R) := Rpower 2 x.
Definition log2 (x : R) := ln x / ln 2.

Lemma ln2_pos : 0 < ln 2.
Proof. rewrite <- ln_1. apply ln_increasing; lra. Qed.

Lemma pow2_log2 : forall M, 0 < M -> pow2 (log2 M) = M.
Proof.
  intros M HM. unfold pow2, log2, Rpower.
  replace (ln M / ln 2 * ln 2) with (ln M) by (field; apply Rgt_not_eq, ln2_pos).
  apply exp_ln; exact HM.
Qed.

Theorem fp8_offset_no_clip : forall M offset tau d, 0 < M -> offset + tau <= log2 M -> d <= tau ->
  pow2 (d + offset) <= M.
Proof.
  intros M offset tau d HM Hc Hd. rewrite <- (pow2_log2 M HM). unfold pow2.
  apply Rle_Rpower; lra.
Qed.

Theorem fp8_offset_clips : forall M offset tau, 0 < M -> log2 M < offset + tau ->
  exists d, d <= tau /\ M < pow2 (d + offset).
Proof.
  intros M offset tau HM Hc. exists tau. split; [lra |].
  rewrite <- (pow2_log2 M HM) at 1. unfold pow2. apply Rpower_lt; lra.
Qed.

(** e4m3's maximum 448 with offset 8 and tau 4: 448 < 2^12, so P = 2^12 is formed and clipped. *)
Lemma log2_448_lt_12 : log2 448 < 12.
Proof.
  unfold log2. apply (Rmult_lt_reg_r (ln 2)); [apply ln2_pos |].
  replace (ln 448 / ln 2 * ln 2) with (ln 448) by (field; apply Rgt_not_eq, ln2_pos).
  replace (12 * ln 2) with (ln (2 ^ 12)) by (rewrite ln_pow; [simpl; lra | lra]).
  apply ln_increasing; simpl; lra.
Qed.

Corollary e4m3_offset8_tau4_clips : exists d, d <= 4 /\ 448 < pow2 (d + 8).
Proof. apply fp8_offset_clips; [lra | pose proof log2_448_lt_12; lra]. Qed.

Print Assumptions fp8_offset_no_clip.
Print Assumptions e4m3_offset8_tau4_clips.
