(** * Lemma 2.1 on the paper's δ-grid: each output of the exact softmax rounded once.

    The top logit v, the rivals' logits us (any number M − 1 >= 0 of them), c = Σ e^(u_i) their exponentials'
    sum: top(v) = e^v / (e^v + c) and the rival i's output e^(u_i) / (e^v + c). *)
From Coq Require Import Reals Lra List.
From Flocq Require Import Core.
Import ListNotations.
Open Scope R_scope.

Definition rivals_sum (us : list R) : R := fold_right Rplus 0 (map exp us).
Definition top (c v : R) : R := exp v / (exp v + c).
Definition rival (c v ui : R) : R := exp ui / (exp v + c).

Lemma rivals_sum_nonneg : forall us, 0 <= rivals_sum us.
Proof.
  unfold rivals_sum. induction us as [|u us IH]; simpl; [lra|]. pose proof (exp_pos u). lra.
Qed.

Lemma rival_le_sum : forall us ui, In ui us -> exp ui <= rivals_sum us.
Proof.
  induction us as [|u us IH]; intros ui H; simpl in H; [contradiction|].
  pose proof (rivals_sum_nonneg us) as N. unfold rivals_sum in *; simpl.
  destruct H as [<-|H]; [lra|]. specialize (IH ui H). pose proof (exp_pos u). lra.
Qed.

Lemma top_le_one : forall c v, 0 <= c -> top c v <= 1.
Proof.
  intros c v Hc. unfold top. pose proof (exp_pos v).
  apply Rmult_le_reg_r with (exp v + c); [lra|]. unfold Rdiv. rewrite Rmult_assoc, Rinv_l; lra.
Qed.

Lemma top_nondecreasing : forall c u v, 0 <= c -> u <= v -> top c u <= top c v.
Proof.
  intros c u v Hc Huv. unfold top.
  assert (E : exp u <= exp v).
  { destruct (Rle_lt_or_eq_dec _ _ Huv) as [L|L]; [left; apply exp_increasing; exact L | rewrite L; lra]. }
  pose proof (exp_pos u). pose proof (exp_pos v).
  apply Rmult_le_reg_r with ((exp u + c) * (exp v + c)); [nra|].
  field_simplify; [nra | lra | lra].
Qed.

Lemma rival_le_one_minus_top : forall us v ui, In ui us ->
  rival (rivals_sum us) v ui <= 1 - top (rivals_sum us) v.
Proof.
  intros us v ui H. unfold rival, top. pose proof (rival_le_sum us ui H). pose proof (exp_pos v).
  pose proof (rivals_sum_nonneg us).
  replace (1 - exp v / (exp v + rivals_sum us)) with (rivals_sum us / (exp v + rivals_sum us)) by (field; lra).
  unfold Rdiv. apply Rmult_le_compat_r; [left; apply Rinv_0_lt_compat; lra | exact H0].
Qed.

Lemma rival_nonneg : forall c v ui, 0 <= c -> 0 <= rival c v ui.
Proof. intros. unfold rival. pose proof (exp_pos v). pose proof (exp_pos ui). left; apply Rdiv_lt_0_compat; lra. Qed.

(** The paper's rounding rule: below δ ↦ 0, above 1 − δ ↦ 1 (any rule in between).  Then p1 > 1 − δ gives
    P(v1, u2, …, uM) = (1, 0, …, 0) for every v1 >= u1: the lemma holds as written on this reading. *)
Theorem lemma_2_1_delta_grid_paper_rule :
  forall (delta : R) (rd : R -> R), 0 < delta ->
  (forall x, 0 <= x < delta -> rd x = 0) -> (forall x, 1 - delta < x <= 1 -> rd x = 1) ->
  forall u1 us, top (rivals_sum us) u1 > 1 - delta ->
  forall v1, u1 <= v1 ->
  rd (top (rivals_sum us) v1) = 1 /\ Forall (fun ui => rd (rival (rivals_sum us) v1 ui) = 0) us.
Proof.
  intros delta rd Hd R0 R1 u1 us Hp v1 Hv. pose proof (rivals_sum_nonneg us) as Hc.
  pose proof (top_nondecreasing _ u1 v1 Hc Hv). pose proof (top_le_one (rivals_sum us) v1 Hc).
  split.
  - apply R1. lra.
  - apply Forall_forall. intros ui Hin. apply R0. pose proof (rival_le_one_minus_top us v1 ui Hin).
    pose proof (rival_nonneg (rivals_sum us) v1 ui Hc). lra.
Qed.

(** Rounding to the nearest multiple of δ = 1/n (n a positive integer, so 1 is on the grid; any tie rule). *)
Definition round_grid (choice : Z -> bool) (n : Z) (x : R) : R := IZR (Znearest choice (x * IZR n)) / IZR n.

(** The corrected statement: p1 > 1 − δ/2 gives P(v1, u2, …, uM) = (1, 0, …, 0) for every v1 >= u1. *)
Theorem lemma_2_1_delta_grid_nearest :
  forall (choice : Z -> bool) (n : Z), (1 <= n)%Z ->
  forall u1 us, top (rivals_sum us) u1 > 1 - / (2 * IZR n) ->
  forall v1, u1 <= v1 ->
  round_grid choice n (top (rivals_sum us) v1) = 1 /\
  Forall (fun ui => round_grid choice n (rival (rivals_sum us) v1 ui) = 0) us.
Proof.
  intros choice n Hn u1 us Hp v1 Hv. pose proof (rivals_sum_nonneg us) as Hc.
  assert (N : 1 <= IZR n) by (apply IZR_le; exact Hn).
  pose proof (top_nondecreasing _ u1 v1 Hc Hv). pose proof (top_le_one (rivals_sum us) v1 Hc).
  assert (Hh : / (2 * IZR n) * IZR n = / 2) by (field; lra).
  split.
  - unfold round_grid. rewrite (Znearest_imp choice _ n).
    + field. lra.
    + set (t := top (rivals_sum us) v1) in *. rewrite Rabs_left1.
      * assert ((1 - / (2 * IZR n)) * IZR n < t * IZR n) by (apply Rmult_lt_compat_r; lra).
        replace ((1 - / (2 * IZR n)) * IZR n) with (IZR n - / 2) in H1 by (field; lra). lra.
      * assert (t * IZR n <= 1 * IZR n) by (apply Rmult_le_compat_r; lra). lra.
  - apply Forall_forall. intros ui Hin. unfold round_grid. rewrite (Znearest_imp choice _ 0).
    + unfold Rdiv. rewrite Rmult_0_l. reflexivity.
    + pose proof (rival_le_one_minus_top us v1 ui Hin). pose proof (rival_nonneg (rivals_sum us) v1 ui Hc).
      set (r := rival (rivals_sum us) v1 ui) in *. rewrite Rminus_0_r, Rabs_pos_eq by nra.
      assert (r * IZR n < / (2 * IZR n) * IZR n) by (apply Rmult_lt_compat_r; lra). lra.
Qed.
