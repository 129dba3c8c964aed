(** * Lemma 2.2 in real arithmetic: the corrected statement, the two-class case, and the refutation of the
    statement as written by a three-class counterexample.

    Classes: the top class (logit u1, raised by v1), the rival t (logit ut, raised by vt) and the others, whose
    exponentials sum to c >= 0 (their v_k = 0).  p = softmax(u), l = softmax(u + v). *)
From Coq Require Import Reals Lra.
Open Scope R_scope.

Definition p1 (u1 ut c : R) := exp u1 / (exp u1 + exp ut + c).
Definition pt (u1 ut c : R) := exp ut / (exp u1 + exp ut + c).
Definition l1 (u1 ut c v1 vt : R) := exp (u1 + v1) / (exp (u1 + v1) + exp (ut + vt) + c).

(** (p1 − l1)(a + b + c)(ax + by + c) = a(b(y − x) − c(x − 1)) with a = e^u1, b = e^ut, x = e^v1, y = e^vt. *)
Lemma lemma_2_2_identity : forall a b c x y, 0 < a -> 0 < b -> 0 <= c -> 0 < x -> 0 < y ->
  (a / (a + b + c) - a * x / (a * x + b * y + c)) * ((a + b + c) * (a * x + b * y + c))
  = a * (b * (y - x) - c * (x - 1)).
Proof.
  intros a b c x y Ha Hb Hc Hx Hy.
  assert (0 < a * x) by (apply Rmult_lt_0_compat; lra).
  assert (0 < b * y) by (apply Rmult_lt_0_compat; lra).
  field. split; lra.
Qed.

(** The corrected Lemma 2.2: l1 < p1 exactly when p_t(e^(vt − v1) − 1) > (1 − p1 − p_t)(1 − e^(−v1)). *)
Theorem lemma_2_2_corrected : forall u1 ut c v1 vt, 0 <= c ->
  (l1 u1 ut c v1 vt < p1 u1 ut c <->
   pt u1 ut c * (exp (vt - v1) - 1) > (1 - p1 u1 ut c - pt u1 ut c) * (1 - exp (- v1))).
Proof.
  intros u1 ut c v1 vt Hc. unfold l1, p1, pt.
  replace (vt - v1) with (vt + - v1) by ring. rewrite !exp_plus, exp_Ropp.
  set (a := exp u1). set (b := exp ut). set (x := exp v1). set (y := exp vt).
  assert (Ha : 0 < a) by apply exp_pos. assert (Hb : 0 < b) by apply exp_pos.
  assert (Hx : 0 < x) by apply exp_pos. assert (Hy : 0 < y) by apply exp_pos.
  assert (Hax : 0 < a * x) by (apply Rmult_lt_0_compat; lra).
  assert (Hby : 0 < b * y) by (apply Rmult_lt_0_compat; lra).
  set (K := b * (y - x) - c * (x - 1)).
  assert (L : a / (a + b + c) - a * x / (a * x + b * y + c) = a * K / ((a + b + c) * (a * x + b * y + c))).
  { unfold K. field. split; lra. }
  assert (R : b / (a + b + c) * (y * / x - 1) - (1 - a / (a + b + c) - b / (a + b + c)) * (1 - / x)
              = K / ((a + b + c) * x)).
  { unfold K. field. split; lra. }
  assert (D1 : 0 < (a + b + c) * (a * x + b * y + c)) by (apply Rmult_lt_0_compat; lra).
  assert (D2 : 0 < (a + b + c) * x) by (apply Rmult_lt_0_compat; lra).
  split; intros H.
  - assert (0 < K).
    { assert (0 < a * K / ((a + b + c) * (a * x + b * y + c))) by lra.
      unfold Rdiv in H0. apply Rmult_lt_reg_r with (/ ((a + b + c) * (a * x + b * y + c)));
        [apply Rinv_0_lt_compat; lra|].
      assert (0 < K * / ((a + b + c) * (a * x + b * y + c))); [|lra].
      apply Rmult_lt_reg_l with a; [lra|]. rewrite Rmult_0_r. rewrite <- Rmult_assoc. exact H0. }
    assert (0 < K / ((a + b + c) * x)) by (apply Rdiv_lt_0_compat; lra). lra.
  - assert (0 < K).
    { assert (P : 0 < K / ((a + b + c) * x)) by lra. unfold Rdiv in P.
      destruct (Rle_or_lt K 0) as [N|N]; [|exact N].
      assert (K * / ((a + b + c) * x) <= 0); [|lra].
      assert (0 < / ((a + b + c) * x)) by (apply Rinv_0_lt_compat; lra). nra. }
    assert (0 < a * K / ((a + b + c) * (a * x + b * y + c))).
    { apply Rdiv_lt_0_compat; [apply Rmult_lt_0_compat|]; lra. }
    lra.
Qed.

(** Two classes (c = 0): raising the top logit by less than the rival's always lowers the top output. *)
Theorem lemma_2_2_two_classes : forall u1 ut v1 vt, (l1 u1 ut 0 v1 vt < p1 u1 ut 0 <-> v1 < vt).
Proof.
  intros u1 ut v1 vt. rewrite (lemma_2_2_corrected u1 ut 0 v1 vt) by lra. unfold p1, pt.
  replace (1 - exp u1 / (exp u1 + exp ut + 0) - exp ut / (exp u1 + exp ut + 0)) with 0
    by (field; pose proof (exp_pos u1); pose proof (exp_pos ut); lra).
  rewrite Rmult_0_l. assert (B : 0 < exp ut / (exp u1 + exp ut + 0))
    by (apply Rdiv_lt_0_compat; pose proof (exp_pos u1); pose proof (exp_pos ut); lra).
  split; intros H.
  - destruct (Rlt_or_le v1 vt) as [L|L]; [exact L|]. exfalso.
    assert (exp (vt - v1) <= 1); [|nra].
    rewrite <- exp_0. destruct (Rle_lt_or_eq_dec (vt - v1) 0 ltac:(lra)) as [S|S].
    + left; apply exp_increasing; exact S.
    + rewrite S; lra.
  - assert (1 < exp (vt - v1)); [|nra]. rewrite <- exp_0. apply exp_increasing. lra.
Qed.

(** The statement as the paper writes it (three classes, t = 2): p1 > p_i, v_t > v1 > 0, u1 + v1 > ut + vt,
    v_k = 0 otherwise, then l1 > l_t and l1 < p1. *)
Definition lemma_2_2_as_written : Prop :=
  forall u1 u2 u3 v1 v2 : R,
  exp u1 > exp u2 -> exp u1 > exp u3 -> v2 > v1 -> v1 > 0 -> u1 + v1 > u2 + v2 ->
  exp (u1 + v1) > exp (u2 + v2) /\ l1 u1 u2 (exp u3) v1 v2 < p1 u1 u2 (exp u3).

(** Refuted by u = (2, 0, 1.9), v = (1, 1.1, 0): raising u1 also takes mass from the third class, and l1 > p1. *)
Theorem lemma_2_2_as_written_is_false : ~ lemma_2_2_as_written.
Proof.
  intros H. destruct (H 2 0 (19 / 10) 1 (11 / 10)) as [_ C].
  - apply Rlt_gt, exp_increasing; lra.
  - apply Rlt_gt, exp_increasing; lra.
  - lra.
  - lra.
  - lra.
  - assert (p1 2 0 (exp (19 / 10)) < l1 2 0 (exp (19 / 10)) 1 (11 / 10)); [|lra].
    (* p1 - l1 has the sign of (e^1.1 - e) - e^1.9 (e - 1), negative: e - 1 > 1 and e^1.1 < e^1.9 *)
    pose proof (exp_ineq1 1 ltac:(lra)) as E. pose proof (exp_pos 1) as X0.
    assert (Y : exp (11 / 10) < exp (19 / 10)) by (apply exp_increasing; lra).
    pose proof (exp_pos 2) as A. pose proof (exp_pos (19 / 10)) as C0. pose proof (exp_pos (11 / 10)) as Y0.
    pose proof (lemma_2_2_identity (exp 2) 1 (exp (19 / 10)) (exp 1) (exp (11 / 10)) A ltac:(lra) ltac:(lra) X0 Y0)
      as I.
    unfold l1, p1. rewrite !exp_plus, exp_0.
    set (P := exp 2 / (exp 2 + 1 + exp (19 / 10))) in *.
    set (L := exp 2 * exp 1 / (exp 2 * exp 1 + 1 * exp (11 / 10) + exp (19 / 10))) in *.
    assert (D : 0 < (exp 2 + 1 + exp (19 / 10)) * (exp 2 * exp 1 + 1 * exp (11 / 10) + exp (19 / 10)))
      by (apply Rmult_lt_0_compat; nra).
    assert (N : 1 * (exp (11 / 10) - exp 1) - exp (19 / 10) * (exp 1 - 1) < 0) by nra.
    assert (M : exp 2 * (1 * (exp (11 / 10) - exp 1) - exp (19 / 10) * (exp 1 - 1)) < 0) by nra.
    nra.
Qed.
