(** * M classes summed rivals first, and pairwise: the top output is 1 iff the rivals' rounded sum is absorbed

    MClassesTopFirst.v sums the top class's 1 first, where each rival's term is absorbed on its own.  Summed the
    other ways (precision/emulated/algorithms.py, orders "max_last" and "pairwise"), the rivals meet each other
    first:
    - rivals first: S := rnd(… rnd(r_1 + r_2) … + r_n) (from 0), then s := rnd(S + 1); the top output rnd(1 / s) is
      exactly 1 iff S <= 2^−p ([top_rivals_first_eq_one_iff]): the bound applies to the rounded sum of the rivals,
      not to each term, so it saturates no earlier than top first ([rivals_first_one_implies_top_first_one]);
    - any summation tree (pairwise halving, lanes, …) with the 1 as one leaf: rnd(1 / s) = 1 iff the tree's rounded
      sum s is exactly 1 ([tree_top_eq_one_iff]); at a node whose left part holds the 1 (pairwise with the top
      class in column 0), iff the left part sums to 1 and the right part's rivals sum to at most 2^−p
      ([tree_node_one_iff]).
    Every r_j is a non-negative value of the format (a rounded exponential).  Generic in [p >= 2] and
    [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith List.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass MClassesTopFirst.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section MClassesOtherOrders.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_orders : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation b := (bpow radix2 (- p)).

(** The rivals' running sum from 0, each addition rounded. *)
Definition sum_rivals (rs : list R) : R :=
  fold_left (fun s r => round radix2 (FLT_exp emin p) ZnearestE (s + r)) rs 0.

(** The top output with the rivals summed first and the top class's 1 added last. *)
Definition top_output_rivals_first (rs : list R) : R :=
  round radix2 (FLT_exp emin p) ZnearestE (1 / round radix2 (FLT_exp emin p) ZnearestE (sum_rivals rs + 1)).

Lemma F_rnd : forall x, F (rnd x).
Proof. intros x. apply generic_format_round; exact _. Qed.

Lemma fold_ge : forall rs s, F s -> Forall (fun r => 0 <= r) rs ->
  s <= fold_left (fun s r => rnd (s + r)) rs s.
Proof.
  induction rs as [|r rs IH]; intros s Fs H; simpl; [lra|]. inversion H as [|? ? Hr Hrs]; subst.
  assert (L : s <= rnd (s + r)) by (apply round_ge_generic; try exact _; [exact Fs | lra]).
  apply Rle_trans with (1 := L). apply IH; [apply F_rnd | exact Hrs].
Qed.

Lemma fold_format : forall rs s, F s -> F (fold_left (fun s r => rnd (s + r)) rs s).
Proof. induction rs as [|r rs IH]; intros s Fs; simpl; [exact Fs | apply IH, F_rnd]. Qed.

Lemma sum_rivals_nonneg : forall rs, Forall (fun r => 0 <= r) rs -> 0 <= sum_rivals rs.
Proof. intros rs H. apply (fold_ge rs 0 (generic_format_0 _ _) H). Qed.

(** Each rival (a value of the format) is at most the rounded sum. *)
Lemma fold_ge_each : forall rs s, F s -> 0 <= s -> Forall (fun r => F r /\ 0 <= r) rs ->
  Forall (fun r => r <= fold_left (fun s r => rnd (s + r)) rs s) rs.
Proof.
  induction rs as [|r rs IH]; intros s Fs Hs H; [constructor|]. inversion H as [|? ? [Fr Hr] Hrs]; subst. simpl.
  assert (Nn : Forall (fun r => 0 <= r) rs) by (apply Forall_forall; intros x Hx;
    exact (proj2 (proj1 (Forall_forall _ rs) Hrs x Hx))).
  constructor.
  - apply Rle_trans with (rnd (s + r)).
    + apply round_ge_generic; try exact _; [exact Fr | lra].
    + apply fold_ge; [apply F_rnd | exact Nn].
  - apply IH; [apply F_rnd | apply round_ge_generic; try exact _; [apply generic_format_0 | lra] | exact Hrs].
Qed.

(** ** Rivals first *)
Theorem top_rivals_first_eq_one_iff :
  forall rs, Forall (fun r => 0 <= r) rs -> (top_output_rivals_first rs = 1 <-> sum_rivals rs <= b).
Proof.
  intros rs H. unfold top_output_rivals_first. rewrite Rplus_comm.
  exact (top_output_eq_one_iff p emin Hp Hemin _ (sum_rivals_nonneg rs H)).
Qed.

(** Saturated rivals first, every rival is at most 2^−p, so the top-first sum is saturated too. *)
Theorem rivals_first_one_implies_top_first_one :
  forall rs, Forall (fun r => F r /\ 0 <= r) rs -> top_output_rivals_first rs = 1 ->
  Forall (fun r => r <= b) rs /\ top_output_m p emin rs = 1.
Proof.
  intros rs H T.
  assert (Nn : Forall (fun r => 0 <= r) rs) by (apply Forall_forall; intros x Hx;
    exact (proj2 (proj1 (Forall_forall _ rs) H x Hx))).
  apply top_rivals_first_eq_one_iff in T; [|exact Nn].
  assert (A : Forall (fun r => r <= b) rs).
  { pose proof (fold_ge_each rs 0 (generic_format_0 _ _) ltac:(lra) H) as E.
    apply Forall_forall. intros x Hx. apply Rle_trans with (2 := T). exact (proj1 (Forall_forall _ rs) E x Hx). }
  split; [exact A | apply (top_output_m_eq_one_iff p emin Hp Hemin rs Nn); exact A].
Qed.

(** ** Any summation tree *)
Inductive sum_tree : Type := Leaf (x : R) | Node (l r : sum_tree).

Fixpoint tree_sum (t : sum_tree) : R :=
  match t with
  | Leaf x => x
  | Node l r => round radix2 (FLT_exp emin p) ZnearestE (tree_sum l + tree_sum r)
  end.

Fixpoint leaves (t : sum_tree) : list R :=
  match t with Leaf x => x :: nil | Node l r => leaves l ++ leaves r end.

Lemma tree_sum_format_nonneg : forall t, Forall (fun r => F r /\ 0 <= r) (leaves t) -> F (tree_sum t) /\ 0 <= tree_sum t.
Proof.
  induction t as [x|l IHl r IHr]; intros H; simpl in *.
  - inversion H; assumption.
  - apply Forall_app in H. destruct H as [Hl Hr]. destruct (IHl Hl) as [Fl Pl]. destruct (IHr Hr) as [Fr Pr].
    split; [apply F_rnd | apply round_ge_generic; try exact _; [apply generic_format_0 | lra]].
Qed.

(** Every leaf is at most the tree's rounded sum. *)
Lemma tree_sum_ge_leaves : forall t, Forall (fun r => F r /\ 0 <= r) (leaves t) ->
  Forall (fun r => r <= tree_sum t) (leaves t).
Proof.
  induction t as [x|l IHl r IHr]; intros H; simpl in *.
  - constructor; [lra | constructor].
  - apply Forall_app in H as HH. destruct HH as [Hl Hr].
    destruct (tree_sum_format_nonneg l Hl) as [Fl Pl]. destruct (tree_sum_format_nonneg r Hr) as [Fr Pr].
    assert (GL : tree_sum l <= rnd (tree_sum l + tree_sum r)) by (apply round_ge_generic; try exact _; [exact Fl | lra]).
    assert (GR : tree_sum r <= rnd (tree_sum l + tree_sum r)) by (apply round_ge_generic; try exact _; [exact Fr | lra]).
    apply Forall_app. split; apply Forall_forall; intros y Hy.
    + apply Rle_trans with (2 := GL). exact (proj1 (Forall_forall _ _) (IHl Hl) y Hy).
    + apply Rle_trans with (2 := GR). exact (proj1 (Forall_forall _ _) (IHr Hr) y Hy).
Qed.

(** With the top class's 1 among the leaves, the top output is 1 iff the rounded sum is exactly 1. *)
Theorem tree_top_eq_one_iff : forall t, Forall (fun r => F r /\ 0 <= r) (leaves t) -> In 1 (leaves t) ->
  (rnd (1 / tree_sum t) = 1 <-> tree_sum t = 1).
Proof.
  intros t H I. destruct (tree_sum_format_nonneg t H) as [Fs _].
  assert (S1 : 1 <= tree_sum t) by exact (proj1 (Forall_forall _ _) (tree_sum_ge_leaves t H) 1 I).
  split.
  - intros T. destruct (Rle_lt_or_eq_dec _ _ S1) as [Lt|Eq]; [exfalso | now symmetry].
    pose proof (succ_le_lt radix2 fexp 1 _ (format_one p emin Hp Hemin) Fs Lt) as G.
    pose proof (round_inv_lt_one p emin Hp Hemin _ G). pose proof (pred_one_lt_one p emin Hp Hemin). lra.
  - intros ->. replace (1 / 1) with 1 by field. apply round_generic; try exact _. apply format_one; assumption.
Qed.

(** A node whose left part holds the 1 (pairwise halving with the top class in column 0, at every level): its sum
    is 1 iff the left part's is 1 and the right part's, a sum of rivals only, is at most 2^−p, so each of those
    rivals is at most 2^−p. *)
Theorem tree_node_one_iff : forall l r, Forall (fun x => F x /\ 0 <= x) (leaves (Node l r)) -> In 1 (leaves l) ->
  (tree_sum (Node l r) = 1 <-> tree_sum l = 1 /\ tree_sum r <= b /\ Forall (fun x => x <= b) (leaves r)).
Proof.
  intros l r H I. simpl in H. apply Forall_app in H. destruct H as [Hl Hr].
  destruct (tree_sum_format_nonneg l Hl) as [Fl Pl]. destruct (tree_sum_format_nonneg r Hr) as [Fr Pr].
  assert (L1 : 1 <= tree_sum l) by exact (proj1 (Forall_forall _ _) (tree_sum_ge_leaves l Hl) 1 I).
  assert (Each : tree_sum r <= b -> Forall (fun x => x <= b) (leaves r)).
  { intros B. apply Forall_forall. intros y Hy. apply Rle_trans with (2 := B).
    exact (proj1 (Forall_forall _ _) (tree_sum_ge_leaves r Hr) y Hy). }
  simpl tree_sum. split.
  - intros E. destruct (Rle_lt_or_eq_dec _ _ L1) as [Lt|Eq].
    + exfalso. pose proof (succ_le_lt radix2 fexp 1 _ (format_one p emin Hp Hemin) Fl Lt) as G.
      assert (G' : succ 1 <= rnd (tree_sum l + tree_sum r)).
      { apply round_ge_generic; try exact _; [|lra]. apply generic_format_succ; try exact _.
        apply format_one; assumption. }
      rewrite E, (succ_one p emin Hp Hemin) in G'. pose proof (b_pos p emin Hp Hemin). lra.
    + rewrite <- Eq in E. apply (round_one_plus_eq_one_iff p emin Hp Hemin _ Pr) in E.
      split; [now symmetry | split; [exact E | exact (Each E)]].
  - intros [E [B _]]. rewrite E. apply (round_one_plus_eq_one_iff p emin Hp Hemin _ Pr). exact B.
Qed.

End MClassesOtherOrders.
