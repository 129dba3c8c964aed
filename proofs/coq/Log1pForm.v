(** * The division-free log1p form, two classes: where the top log-probability is exactly 0, and when the
    top output exp(x1 − lse) is exactly 1

    With the rival's rounded exponential r = rnd(e^(x2 − x1)) (x1 the top logit, x2 the rival), the log1p form
    computes, every operation rounded (precision/emulated/measures.py [log_softmax_log1p],
    precision/kernels/accurate.py, and precision/emulated/algorithms.py [logsumexp_log1p]):
    - the top log-probability  log p1 = rnd(0 − rnd(log1p r));
    - the top output  rnd(exp(rnd(x1 − lse)))  with  lse = rnd(x1 + rnd(log1p r)).
    The log-probability is exactly 0 iff r = 0, i.e. iff e^−g <= 2^emin / 2: it reads 0 from the gap T0 from which
    the other softmax output is 0, not from T.  The top output, with the top logit at 0, is exactly 1 iff
    r <= 2^(−p−1) (half the max-shifted division form's bound); with the top logit x1 >= 1/2 (the emulation's rows
    (g, 0)) iff the sum lse rounds back to x1.  log1p is [ln (1 + r)], correctly rounded.  Generic in [p >= 2] and
    [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus RoundOnePlusModes TopOutputTwoClass.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section Log1pForm.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_log1p : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation pred := (pred radix2 fexp).
Local Notation b := (bpow radix2 (- p)).
Local Notation h := (bpow radix2 (- p - 1)).

(** The top log-probability of the log1p form, from the rival's rounded exponential [r]. *)
Definition top_log_prob_log1p (r : R) : R :=
  round radix2 (FLT_exp emin p) ZnearestE (0 - round radix2 (FLT_exp emin p) ZnearestE (ln (1 + r))).

(** The top output of the log1p form: exp(x1 − lse), lse = x1 + log1p(r). *)
Definition top_output_log1p (x1 r : R) : R :=
  round radix2 (FLT_exp emin p) ZnearestE (exp (round radix2 (FLT_exp emin p) ZnearestE
    (x1 - round radix2 (FLT_exp emin p) ZnearestE
      (x1 + round radix2 (FLT_exp emin p) ZnearestE (ln (1 + r)))))).

(** ** Bounds on ln(1 + r) *)
Lemma ln_le_of_exp_le : forall t y, 0 < y -> exp t <= y -> t <= ln y.
Proof.
  intros t y Hy H. rewrite <- (ln_exp t) at 1. destruct (Rle_lt_or_eq_dec _ _ H) as [L|E].
  - left. apply ln_increasing; [apply exp_pos | exact L].
  - rewrite E. lra.
Qed.

Lemma ln1p_nonneg : forall r, 0 <= r -> 0 <= ln (1 + r).
Proof. intros r Hr. apply ln_le_of_exp_le; [lra|]. rewrite exp_0. lra. Qed.

Lemma ln1p_le : forall r, 0 <= r -> ln (1 + r) <= r.
Proof.
  intros r Hr. rewrite <- (ln_exp r) at 2. pose proof (exp_ineq1_le r) as E.
  destruct (Rle_lt_or_eq_dec _ _ E) as [L|Q].
  - left. apply ln_increasing; [lra | exact L].
  - rewrite Q. lra.
Qed.

Lemma ln1p_ge : forall r, 0 <= r -> r / (1 + r) <= ln (1 + r).
Proof.
  intros r Hr. apply ln_le_of_exp_le; [lra|].
  pose proof (exp_ineq1_le (- (r / (1 + r)))) as E.
  replace (1 + - (r / (1 + r))) with (/ (1 + r)) in E by (field; lra).
  replace (exp (r / (1 + r))) with (/ exp (- (r / (1 + r)))) by (rewrite exp_Ropp, Rinv_inv; reflexivity).
  apply Rle_trans with (/ / (1 + r)); [|rewrite Rinv_inv; lra].
  apply Rinv_le_contravar; [apply Rinv_0_lt_compat; lra | exact E].
Qed.

Lemma F_rnd : forall x, F (rnd x).
Proof. intros x. apply generic_format_round; exact _. Qed.

Lemma rnd_nonneg : forall x, 0 <= x -> 0 <= rnd x.
Proof. intros x Hx. apply round_ge_generic; try exact _; [apply generic_format_0 | exact Hx]. Qed.

(** A positive value of the format is at least 2^emin. *)
Lemma format_pos_ge : forall x, F x -> 0 < x -> bpow radix2 emin <= x.
Proof.
  intros x Fx Hx. rewrite <- (ulp_FLT_0 radix2 emin p), <- succ_0.
  apply succ_le_lt; try exact _; [apply generic_format_0 | exact Fx | exact Hx].
Qed.

(** ** The top log-probability *)
Theorem log1p_logprob_eq_zero_iff : forall r, F r -> 0 <= r -> (top_log_prob_log1p r = 0 <-> r = 0).
Proof.
  intros r Fr Hr. unfold top_log_prob_log1p. split.
  - intros Z. destruct (Rle_lt_or_eq_dec _ _ Hr) as [Pos|E]; [exfalso | now symmetry].
    pose proof (format_pos_ge r Fr Pos) as Ge.
    assert (Bs : bpow radix2 emin <= / 8).
    { replace (/ 8) with (bpow radix2 (-3)) by (simpl; lra). apply bpow_le; lia. }
    pose proof (bpow_gt_0 radix2 emin).
    assert (Big : bpow radix2 emin / 2 < ln (1 + r)).
    { apply Rlt_le_trans with (r / (1 + r)); [|apply ln1p_ge; lra].
      apply Rmult_lt_reg_r with (2 * (1 + r)); [lra|]. unfold Rdiv.
      replace (r * / (1 + r) * (2 * (1 + r))) with (2 * r) by (field; lra). nra. }
    assert (L0 : rnd (ln (1 + r)) <> 0).
    { intros E. apply (round_NE_eq_zero_iff p emin Hp Hemin) in E; [lra | apply ln1p_nonneg; lra]. }
    apply L0. rewrite round_generic in Z; try exact _; [lra|].
    replace (0 - rnd (ln (1 + r))) with (- rnd (ln (1 + r))) by ring. apply generic_format_opp, F_rnd.
  - intros ->. rewrite Rplus_0_r, ln_1, round_0 by exact _. rewrite Rminus_0_r. apply round_0; exact _.
Qed.

(** With exp correctly rounded: the top log-probability is 0 exactly when e^−g rounds to 0. *)
Theorem log1p_logprob_zero_iff_exp_le :
  forall g, top_log_prob_log1p (rnd (exp (- g))) = 0 <-> exp (- g) <= bpow radix2 emin / 2.
Proof.
  intros g. assert (E0 : 0 <= exp (- g)) by (left; apply exp_pos).
  rewrite (log1p_logprob_eq_zero_iff _ (F_rnd _) (rnd_nonneg _ E0)).
  exact (round_NE_eq_zero_iff p emin Hp Hemin _ E0).
Qed.

(** So it reads 0 from the same gap as the max-shifted softmax's other output (T0), for every format. *)
Theorem log1p_logprob_zero_iff_other_zero :
  forall g, 0 <= g ->
  (top_log_prob_log1p (rnd (exp (- g))) = 0 <-> other_output p emin (rnd (exp (- g))) = 0).
Proof.
  intros g Hg. rewrite (other_zero_iff_rounded_exp_zero p emin Hp Hemin g Hg).
  apply log1p_logprob_eq_zero_iff; [apply F_rnd | apply rnd_nonneg; left; apply exp_pos].
Qed.

(** ** The top output exp(x1 − lse) *)
Lemma h_half_b : h = b / 2.
Proof.
  replace (- p - 1)%Z with (- p + -1)%Z by lia. rewrite bpow_plus. change (bpow radix2 (-1)) with (/ 2). lra.
Qed.

Lemma format_h : F h.
Proof. apply (format_bpow_small p emin Hp Hemin). lia. Qed.

(** The successor of 2^(−p−1): 2^(−p−1) + u with 2^(−2p) <= u <= 2^(−p−1). *)
Lemma succ_h : exists u, succ h = h + u /\ b * b <= u <= h.
Proof.
  exists (bpow radix2 (fexp (- p - 1 + 1))). split.
  - rewrite succ_eq_pos by apply bpow_ge_0. now rewrite ulp_bpow.
  - rewrite <- bpow_plus. split; apply bpow_le; unfold FLT_exp; lia.
Qed.

Lemma b_bounds : 0 < b <= / 4.
Proof. split; [apply (b_pos p emin) | apply (b_le_quarter p emin)]; assumption. Qed.

(** exp of a non-positive value x of the format rounds to 1 iff −x <= 2^(−p−1). *)
Theorem round_exp_neg_eq_one_iff : forall x, F x -> 0 <= x -> (rnd (exp (- x)) = 1 <-> x <= h).
Proof.
  intros x Fx Hx. pose proof b_bounds as B. rewrite h_half_b.
  assert (E1 : exp (- x) <= 1).
  { rewrite <- exp_0. destruct (Rle_lt_or_eq_dec _ _ Hx) as [L|E]; [left; apply exp_increasing; lra|].
    rewrite <- E, Ropp_0. lra. }
  replace (exp (- x)) with (1 - (1 - exp (- x))) by ring.
  rewrite (round_NE_one_minus_eq_one_iff p emin Hp Hemin) by lra. split.
  - intros H. destruct (Rle_or_lt x (b / 2)) as [Le|Gt]; [exact Le|]. exfalso.
    rewrite <- h_half_b in Gt. pose proof (succ_le_lt radix2 fexp h x format_h Fx Gt) as S.
    destruct succ_h as [u [Su Hu]]. rewrite Su in S. rewrite <- h_half_b in H.
    assert (G : x / (1 + x) <= 1 - exp (- x)).
    { rewrite exp_Ropp. pose proof (exp_ineq1_le x). pose proof (exp_pos x).
      apply Rle_trans with (1 - / (1 + x)).
      - right. field. lra.
      - apply Rplus_le_compat_l, Ropp_le_contravar, Rinv_le_contravar; lra. }
    assert (x / (1 + x) > h); [|lra].
    rewrite h_half_b in *. apply Rlt_gt, Rmult_lt_reg_r with (1 + x); [lra|]. unfold Rdiv at 2.
    rewrite Rmult_assoc, Rinv_l, Rmult_1_r by lra. nra.
  - intros H. pose proof (exp_ineq1_le (- x)). lra.
Qed.

(** The midpoint above 2^(−p−1) lies below ln(1 + succ 2^(−p−1)) (through the bound r / (1 + r)). *)
Lemma mid_lt : forall u, b * b <= u <= b / 2 -> b / 2 + u / 2 < (b / 2 + u) / (1 + (b / 2 + u)).
Proof.
  intros u Hu. pose proof b_bounds as B. assert (P : 0 < 1 + (b / 2 + u)) by nra.
  apply Rmult_lt_reg_r with (1 + (b / 2 + u)); [exact P|].
  replace ((b / 2 + u) / (1 + (b / 2 + u)) * (1 + (b / 2 + u))) with (b / 2 + u) by (field; lra).
  assert (0 <= (u - b * b) * (b / 2 - u)) by (apply Rmult_le_pos; lra).
  assert (0 <= (u - b * b) * (1 - 2 * b - b * b)) by (apply Rmult_le_pos; nra).
  assert (0 < b * b * (/ 2 - 3 * b / 2 - b * b)) by (apply Rmult_lt_0_compat; nra). nra.
Qed.

(** The top logit at 0 (the max-shifted logits): the top output is 1 iff r <= 2^(−p−1). *)
Theorem top_output_log1p_at_zero_eq_one_iff :
  forall r, F r -> 0 <= r -> (top_output_log1p 0 r = 1 <-> r <= h).
Proof.
  intros r Fr Hr. unfold top_output_log1p. pose proof b_bounds as B.
  set (L := rnd (ln (1 + r))).
  assert (FL : F L) by apply F_rnd.
  assert (L0 : 0 <= L) by (apply rnd_nonneg, ln1p_nonneg; exact Hr).
  rewrite Rplus_0_l, (round_generic radix2 fexp ZnearestE L FL), Rminus_0_l.
  rewrite (round_generic radix2 fexp ZnearestE (- L)) by (apply generic_format_opp; exact FL).
  rewrite (round_exp_neg_eq_one_iff L FL L0). unfold L. split.
  - intros H. destruct (Rle_or_lt r h) as [Le|Gt]; [exact Le|]. exfalso.
    pose proof (succ_le_lt radix2 fexp h r format_h Fr Gt) as S.
    destruct succ_h as [u [Su Hu]]. rewrite Su in S.
    assert (U0 : 0 < u) by nra. pose proof (bpow_gt_0 radix2 (- p - 1)).
    assert (Mid : (succ h + pred (succ h)) / 2 < ln (1 + r)).
    { rewrite pred_succ by first [exact _ | exact format_h]. rewrite Su.
      apply Rlt_le_trans with ((h + u) / (1 + (h + u))).
      - replace ((h + u + h) / 2) with (h + u / 2) by field. rewrite h_half_b in *. apply mid_lt. nra.
      - apply Rle_trans with (ln (1 + (h + u))); [apply ln1p_ge; lra|].
        destruct (Rle_lt_or_eq_dec _ _ S) as [Lt|Eq]; [left; apply ln_increasing; lra | rewrite Eq; lra]. }
    pose proof (round_N_ge_midp radix2 fexp (fun t => negb (Z.even t)) (succ h) (ln (1 + r))
      (generic_format_succ radix2 fexp h format_h) Mid) as G.
    rewrite Su in G. change (Znearest (fun t => negb (Z.even t))) with ZnearestE in G. lra.
  - intros H. apply round_le_generic; try exact _; [exact format_h|].
    apply Rle_trans with r; [apply ln1p_le | ]; lra.
Qed.

(** The top logit x1 >= 1/2 (the emulation's rows (g, 0)): the top output is 1 iff lse rounds back to x1. *)
Theorem top_output_log1p_eq_one_iff :
  forall x1 r, F x1 -> / 2 <= x1 -> 0 <= r ->
  (top_output_log1p x1 r = 1 <-> rnd (x1 + rnd (ln (1 + r))) = x1).
Proof.
  intros x1 r F1 H1 Hr. unfold top_output_log1p. pose proof b_bounds as B.
  set (L := rnd (ln (1 + r))).
  assert (L0 : 0 <= L) by (apply rnd_nonneg, ln1p_nonneg; exact Hr).
  set (S := rnd (x1 + L)). split.
  - intros T. assert (FS : F S) by apply F_rnd.
    assert (GS : x1 <= S) by (apply round_ge_generic; try exact _; [exact F1 | lra]).
    destruct (Rle_lt_or_eq_dec _ _ GS) as [Lt|Eq]; [exfalso | now symmetry].
    pose proof (succ_le_lt radix2 fexp x1 S F1 FS Lt) as Su. rewrite succ_eq_pos in Su by lra.
    assert (U : b <= ulp radix2 fexp x1).
    { rewrite ulp_neq_0 by lra. apply bpow_le. unfold cexp, FLT_exp.
      assert (0 <= mag radix2 x1)%Z; [|lia]. apply mag_ge_bpow. rewrite Rabs_pos_eq by lra. simpl. lra. }
    set (D := rnd (x1 - S)) in T.
    assert (FD : F (- D)) by (apply generic_format_opp, F_rnd).
    assert (Db : b <= - D).
    { unfold D. rewrite <- round_NE_opp. apply round_ge_generic; try exact _.
      - apply format_b; assumption.
      - lra. }
    replace D with (- - D) in T by ring.
    apply (round_exp_neg_eq_one_iff (- D) FD) in T; [|lra]. rewrite h_half_b in T. lra.
  - intros E. rewrite E, Rminus_diag_eq, round_0, exp_0 by first [exact _ | reflexivity].
    apply round_generic; try exact _. apply format_one; assumption.
Qed.

End Log1pForm.
