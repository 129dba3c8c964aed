(** * M classes, summed top class first: the small terms are absorbed one by one

    The max-shifted softmax with M classes sums the rounded exponentials with the top class's exp(0) = 1 first:
    s := 1, then s := rnd(s + r_j) for each rival's rounded exponential r_j >= 0 in turn; the top output is
    rnd(1 / s).  It is exactly 1 iff every r_j <= 2^-p: each such term is absorbed (rnd(1 + r) = 1), and the
    first larger one lifts the sum to succ(1) or above, where rounding never brings it back.  So with exp
    correctly rounded the two-class threshold T is also the M-class one for this order: every rival at a gap
    >= T gives exactly 1, whatever M.  Generic in [p >= 2] and [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith List.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section MClasses.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_m : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation rnd := (round radix2 fexp ZnearestE).
Local Notation succ := (succ radix2 fexp).
Local Notation b := (bpow radix2 (- p)).

(** The running sum from s, adding the terms left to right, each addition rounded. *)
Definition sum_from (s : R) (rs : list R) : R :=
  fold_left (fun s r => round radix2 (FLT_exp emin p) ZnearestE (s + r)) rs s.

(** The top output with the rivals' rounded exponentials [rs], the top class's 1 summed first. *)
Definition top_output_m (rs : list R) : R :=
  round radix2 (FLT_exp emin p) ZnearestE (1 / sum_from 1 rs).

Lemma sum_from_absorbed : forall rs, Forall (fun r => 0 <= r <= b) rs -> sum_from 1 rs = 1.
Proof.
  induction rs as [|r rs IH]; intros H; [reflexivity|]. inversion H as [|? ? Hr Hrs]; subst. simpl.
  rewrite (proj2 (round_one_plus_eq_one_iff p emin Hp Hemin r (proj1 Hr)) (proj2 Hr)). exact (IH Hrs).
Qed.

Lemma sum_from_ge : forall rs s, F s -> Forall (fun r => 0 <= r) rs -> s <= sum_from s rs.
Proof.
  induction rs as [|r rs IH]; intros s Fs H; simpl; [lra|]. inversion H as [|? ? Hr Hrs]; subst.
  assert (L : s <= rnd (s + r)) by (apply round_ge_generic; try exact _; [exact Fs | lra]).
  apply Rle_trans with (1 := L). apply IH; [apply generic_format_round; exact _ | exact Hrs].
Qed.

Lemma sum_from_lifted :
  forall rs, Forall (fun r => 0 <= r) rs -> Exists (fun r => b < r) rs -> succ 1 <= sum_from 1 rs.
Proof.
  induction rs as [|r rs IH]; intros H E; [inversion E|]. inversion H as [|? ? Hr Hrs]; subst. simpl.
  destruct (Rle_or_lt r b) as [Le|Gt].
  - rewrite (proj2 (round_one_plus_eq_one_iff p emin Hp Hemin r Hr) Le). apply IH; [exact Hrs|].
    inversion E as [? ? Hb|? ? Hx]; subst; [lra | exact Hx].
  - pose proof (round_one_plus_gt p emin Hp Hemin r Gt) as G.
    apply Rle_trans with (1 := G). apply sum_from_ge; [apply generic_format_round; exact _ | exact Hrs].
Qed.

Theorem top_output_m_eq_one_iff :
  forall rs, Forall (fun r => 0 <= r) rs -> (top_output_m rs = 1 <-> Forall (fun r => r <= b) rs).
Proof.
  intros rs H. unfold top_output_m. split.
  - intros T. destruct (Forall_Exists_dec (fun r => r <= b) (fun r => Rle_dec r b) rs) as [A|E]; [exact A|].
    exfalso. assert (E' : Exists (fun r => b < r) rs).
    { apply Exists_exists in E. destruct E as [x [Hx Nx]]. apply Exists_exists. exists x.
      split; [exact Hx | apply Rnot_le_lt; exact Nx]. }
    pose proof (round_inv_lt_one p emin Hp Hemin _ (sum_from_lifted rs H E')) as I.
    pose proof (pred_one_lt_one p emin Hp Hemin). lra.
  - intros A. rewrite sum_from_absorbed.
    + replace (1 / 1) with 1 by field. apply round_generic; try exact _. apply format_one; assumption.
    + apply Forall_forall. intros x Hx. split; [exact (proj1 (Forall_forall _ rs) H x Hx)|].
      exact (proj1 (Forall_forall _ rs) A x Hx).
Qed.

Theorem top_output_m_le_one : forall rs, Forall (fun r => 0 <= r) rs -> top_output_m rs <= 1.
Proof.
  intros rs H. unfold top_output_m. apply round_le_generic; try exact _. apply format_one; assumption.
  pose proof (sum_from_ge rs 1 (format_one p emin Hp Hemin) H) as S.
  unfold Rdiv. rewrite Rmult_1_l. apply Rle_trans with (/ 1); [apply Rinv_le_contravar; lra | rewrite Rinv_1; lra].
Qed.

(** ** exp correctly rounded: every rival at a gap >= T, where the two-class top output is 1, gives 1 for any M *)
Theorem top_m_one_from_two_class_threshold :
  forall T gs, rnd (exp (- T)) <= b -> Forall (fun g => T <= g) gs ->
  top_output_m (map (fun g => rnd (exp (- g))) gs) = 1.
Proof.
  intros T gs HT H. apply top_output_m_eq_one_iff.
  - apply Forall_map. apply Forall_forall. intros g _.
    apply round_ge_generic; try exact _. apply generic_format_0. left; apply exp_pos.
  - apply Forall_map. apply Forall_forall. intros g Hg. apply Rle_trans with (2 := HT).
    apply (rounded_exp_nonincreasing p emin Hp Hemin). exact (proj1 (Forall_forall _ gs) H g Hg).
Qed.

(** ** exp correctly rounded: every rival at a gap >= T0, where the rounded exponential is 0, outputs exactly 0,
    for any M (with the top output exactly 1, by the theorem above, as 0 <= 2^-p) *)
Theorem others_m_zero_from_two_class_threshold :
  forall T0 gs, rnd (exp (- T0)) = 0 -> Forall (fun g => T0 <= g) gs ->
  Forall (fun r => rnd (r / sum_from 1 (map (fun g => rnd (exp (- g))) gs)) = 0) (map (fun g => rnd (exp (- g))) gs).
Proof.
  intros T0 gs HT H. apply Forall_map. apply Forall_forall. intros g Hg.
  assert (Z : rnd (exp (- g)) = 0).
  { apply Rle_antisym.
    - rewrite <- HT. apply (rounded_exp_nonincreasing p emin Hp Hemin). exact (proj1 (Forall_forall _ gs) H g Hg).
    - apply round_ge_generic; try exact _. apply generic_format_0. left; apply exp_pos. }
  rewrite Z. unfold Rdiv. rewrite Rmult_0_l. apply round_0; exact _.
Qed.

End MClasses.
