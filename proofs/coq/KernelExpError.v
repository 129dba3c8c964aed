(** * Kernels whose exp is not correctly rounded: the interval of possible thresholds

    A real kernel computes the rival's exponential as some value r of the format with
    |r - exp(-g)| <= k * ulp(exp(-g)) (k ulps, k a real parameter >= 0; k = 1/2 is correct rounding) and then
    the two-class max-shifted top output rnd(1 / rnd(1 + r)).  Nothing else is assumed about the kernel's exp: not
    monotone, not even a function of g (any r within the bound, pointwise).  The two lemmas below reduce
    "for every gap g >= T_hi the top output is exactly 1" and "for every gap g <= T the top output is below 1" to
    inequalities on exp(-T) at one point, which the per-format file ([KernelThresholds.v], generated from
    [precision.emulated.exp_error.threshold_interval]) proves with the [interval] tactic.  Generic in [p >= 2]
    and [emin <= -p - 1] (FLT, round to nearest even). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass.
Open Scope R_scope.
Set Default Proof Using "Hp Hemin".

Section KernelExpError.

Variables p emin : Z.
Hypothesis Hp : (2 <= p)%Z.
Hypothesis Hemin : (emin <= - p - 1)%Z.

Local Instance prec_gt_0_kernel : Prec_gt_0 p := prec_gt_0_p p emin Hp Hemin.

Local Notation fexp := (FLT_exp emin p).
Local Notation F := (generic_format radix2 fexp).
Local Notation ulp := (ulp radix2 fexp).
Local Notation succ := (succ radix2 fexp).
Local Notation b := (bpow radix2 (- p)).
Local Notation top := (top_output p emin).

(** The ulp of a positive real in the binade [2^(e-1), 2^e). *)
Lemma ulp_in_binade : forall x e, bpow radix2 (e - 1) <= x < bpow radix2 e -> ulp x = bpow radix2 (fexp e).
Proof.
  intros x e H. pose proof (bpow_gt_0 radix2 (e - 1)) as P.
  rewrite ulp_neq_0 by lra. unfold cexp. rewrite (mag_unique_pos radix2 x e H). reflexivity.
Qed.

(** ** For every gap g >= T, every r within k ulps of exp(-g) gives the top output exactly 1 *)
(** The successor of 2^-p. *)
Lemma succ_b_eq : forall s, s = Z.max (1 - 2 * p) emin -> succ b = b + bpow radix2 s.
Proof.
  intros s ->. rewrite succ_eq_pos by (left; apply bpow_gt_0). rewrite ulp_bpow.
  unfold FLT_exp. f_equal. f_equal. lia.
Qed.

Theorem kernel_top_one_from_gap_of_bound :
  forall k T e em1 u s, 0 <= k -> em1 = (e - 1)%Z -> u = fexp e -> s = Z.max (1 - 2 * p) emin ->
  bpow radix2 em1 <= exp (- T) < bpow radix2 e ->
  exp (- T) + k * bpow radix2 u < b + bpow radix2 s ->
  forall g r, T <= g -> F r -> 0 <= r -> Rabs (r - exp (- g)) <= k * ulp (exp (- g)) -> top r = 1.
Proof.
  intros k T e em1 u s Hk -> -> Hs HTe HT g r Hg Fr Hr Herr. rewrite <- (succ_b_eq s Hs) in HT.
  assert (Hx : exp (- g) <= exp (- T)).
  { destruct (Rle_lt_or_eq_dec _ _ Hg) as [L|E]; [left; apply exp_increasing; lra | rewrite E; lra]. }
  assert (U : ulp (exp (- g)) <= bpow radix2 (fexp e)).
  { rewrite <- (ulp_in_binade (exp (- T)) e HTe). apply (ulp_le_pos radix2 fexp); [left; apply exp_pos | exact Hx]. }
  assert (Rlt : r < succ b).
  { apply Rle_lt_trans with (exp (- T) + k * bpow radix2 (fexp e)); [|exact HT].
    apply Rabs_le_inv in Herr. pose proof (Rmult_le_compat_l k _ _ Hk U). lra. }
  apply (top_output_eq_one_iff p emin Hp Hemin); [exact Hr|].
  destruct (Rle_or_lt r b) as [L|G]; [exact L|].
  pose proof (succ_le_lt radix2 fexp b r (format_b p emin Hp Hemin) Fr G). lra.
Qed.

(** ** For every gap g <= T, every r within k ulps of exp(-g) gives a top output below 1

    Two bounds: within the binade of exp(-T) the ulp is that of exp(-T); above it the ulp is at most
    x * 2^(1-p), so x - k * ulp(x) >= 2^e * (1 - k * 2^(1-p)). *)
Theorem kernel_top_below_one_of_bound :
  forall k T e em1 u q, 0 <= k -> q = (1 - p)%Z -> k * bpow radix2 q <= 1 -> (emin + p - 1 <= e)%Z ->
  em1 = (e - 1)%Z -> u = fexp e ->
  bpow radix2 em1 <= exp (- T) < bpow radix2 e ->
  b < exp (- T) - k * bpow radix2 u ->
  b < bpow radix2 e * (1 - k * bpow radix2 q) ->
  forall g r, g <= T -> Rabs (r - exp (- g)) <= k * ulp (exp (- g)) -> top r < 1.
Proof.
  intros k T e em1 u q Hk -> Hk1 He -> -> HTe HT Hup g r Hg Herr.
  assert (Hx : exp (- T) <= exp (- g)).
  { destruct (Rle_lt_or_eq_dec _ _ Hg) as [L|E]; [left; apply exp_increasing; lra | rewrite E; lra]. }
  apply Rabs_le_inv in Herr.
  assert (Rb : b < r).
  { destruct (Rlt_or_le (exp (- g)) (bpow radix2 e)) as [In|Above].
    - rewrite (ulp_in_binade (exp (- g)) e ltac:(lra)) in Herr. lra.
    - assert (Hn : bpow radix2 (emin + p - 1) <= Rabs (exp (- g))).
      { rewrite Rabs_pos_eq by (left; apply exp_pos).
        apply Rle_trans with (bpow radix2 e); [apply bpow_le; exact He | exact Above]. }
      pose proof (ulp_FLT_le radix2 emin p (exp (- g)) Hn) as Ul.
      rewrite Rabs_pos_eq in Ul by (left; apply exp_pos).
      assert (M : bpow radix2 e * (1 - k * bpow radix2 (1 - p)) <=
                  exp (- g) * (1 - k * bpow radix2 (1 - p))).
      { apply Rmult_le_compat_r; lra. }
      pose proof (Rmult_le_compat_l k _ _ Hk Ul). lra. }
  apply (top_output_lt_one_iff p emin Hp Hemin); [pose proof (b_pos p emin Hp Hemin); lra | exact Rb].
Qed.

End KernelExpError.
