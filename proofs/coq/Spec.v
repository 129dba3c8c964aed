(** * The specification: every theorem the certificate and the README cite, pinned to its exact statement

    Each [pin_<name>] below states, once and in the vocabulary of Flocq and Coq's standard library only (the
    project's own definitions such as [top_output] are written out, so changing one of them is caught too), what
    the theorem [<name>] proves, and is defined as that theorem.  Coq accepts the definition only if the theorem's
    statement is that statement up to unfolding: a theorem replaced by [True] under the same name, given an extra
    hypothesis (an impossible one such as [False], or a section's [Hypothesis cheat : False], which becomes a
    premise when the section closes), or weakened in any way fails here.  [softmax-sat prove] checks this file last
    and names the pin that fails; the per-format theorems are pinned the same way by the generated [SpecFormats.v].
    No proof happens here: each pin is a theorem name. *)
From Coq Require Import Reals ZArith List.
From Flocq Require Import Core Round_odd IEEE754.BinarySingleNaN.
From SoftmaxSat Require Import RoundOnePlus RoundOnePlusModes TopOutputTwoClass MClassesTopFirst KernelExpError Lemma22Reals
  Lemma21DeltaGrid OnlineFp8Offset IEEESoftmax.
Import ListNotations.
Open Scope R_scope.

(** The spec's vocabulary: notations (not definitions), so every pin below reads in Flocq's own terms. *)
Local Notation rnd p emin x := (round radix2 (FLT_exp emin p) ZnearestE x) (only parsing).
Local Notation rndm p emin m x := (round radix2 (FLT_exp emin p) m x) (only parsing).
Local Notation F p emin x := (generic_format radix2 (FLT_exp emin p) x) (only parsing).
Local Notation ulp p emin x := (ulp radix2 (FLT_exp emin p) x) (only parsing).
Local Notation succ p emin x := (succ radix2 (FLT_exp emin p) x) (only parsing).
(** The two-class max-shifted outputs from the rival's rounded exponential r. *)
Local Notation top p emin r := (rnd p emin (1 / rnd p emin (1 + r))) (only parsing).
Local Notation other p emin r := (rnd p emin (r / rnd p emin (1 + r))) (only parsing).
(** IEEE 754 (BinarySingleNaN, prec bits, infinities at emax): what the kernel needs of exp, and the kernel itself:
    d = x2 − x1, r = exp(d), s = 1 + r, top = 1 / s, other = r / s; [no_inf] turns an infinite result into NaN. *)
Local Notation exp_ok prec emax E :=
  (E (B754_infinity true) = B754_zero false /\ E B754_nan = B754_nan /\
   forall d : binary_float prec emax, is_finite d = true -> B2R d <= 0 ->
   B2R (E d) = rnd prec (3 - emax - prec)%Z (exp (B2R d)) /\ is_finite (E d) = true) (only parsing).
Local Notation ieee_r E x1 x2 := (E (Bminus mode_NE x2 x1)) (only parsing).
Local Notation ieee_s E x1 x2 := (Bplus mode_NE Bone (ieee_r E x1 x2)) (only parsing).
Local Notation ieee_top E x1 x2 := (Bdiv mode_NE Bone (ieee_s E x1 x2)) (only parsing).
Local Notation ieee_other E x1 x2 := (Bdiv mode_NE (ieee_r E x1 x2) (ieee_s E x1 x2)) (only parsing).
Local Notation nan_if_inf x := (match x with B754_infinity _ => B754_nan | _ => x end) (only parsing).
Local Notation no_inf_r E x1 x2 := (E (nan_if_inf (Bminus mode_NE x2 x1))) (only parsing).
Local Notation no_inf_s E x1 x2 := (nan_if_inf (Bplus mode_NE Bone (no_inf_r E x1 x2))) (only parsing).

(** The two instances' formats: binary16 (11 bits, infinities at 2^16) and 4 bits with infinities at 2^9. *)
Local Instance spec_binary16_prec : Prec_gt_0 11 := eq_refl.
Local Instance spec_binary16_emax : Prec_lt_emax 11 16 := eq_refl.
Local Instance spec_e4m3_prec : Prec_gt_0 4 := eq_refl.
Local Instance spec_e4m3_emax : Prec_lt_emax 4 9 := eq_refl.

(** The running sum of the M-class top-first order: s := 1, then s := rnd(s + r_j). *)
Local Notation sum_top_first p emin rs :=
  (fold_left (fun s r => rnd p emin (s + r)) rs 1) (only parsing).

(** ** RoundOnePlus *)
Definition pin_round_one_plus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rnd p emin (1 + e) = 1 <-> e <= bpow radix2 (- p))
  := round_one_plus_eq_one_iff.

(** ** RoundOnePlusModes: the same facts under each of Flocq's deterministic rounding modes *)
Definition pin_round_NA_one_plus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin ZnearestA (1 + e) = 1 <-> e < (bpow radix2 (- p)))
  := round_NA_one_plus_eq_one_iff.

Definition pin_round_DN_one_plus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Zfloor (1 + e) = 1 <-> e < 2 * (bpow radix2 (- p)))
  := round_DN_one_plus_eq_one_iff.

Definition pin_round_ZR_one_plus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Ztrunc (1 + e) = 1 <-> e < 2 * (bpow radix2 (- p)))
  := round_ZR_one_plus_eq_one_iff.

Definition pin_round_UP_one_plus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Zceil (1 + e) = 1 <-> e = 0)
  := round_UP_one_plus_eq_one_iff.

Definition pin_round_odd_one_plus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Zrnd_odd (1 + e) = 1 <-> e = 0)
  := round_odd_one_plus_eq_one_iff.

Definition pin_round_NE_one_minus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin ZnearestE (1 - e) = 1 <-> e <= (bpow radix2 (- p)) / 2)
  := round_NE_one_minus_eq_one_iff.

Definition pin_round_NA_one_minus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin ZnearestA (1 - e) = 1 <-> e <= (bpow radix2 (- p)) / 2)
  := round_NA_one_minus_eq_one_iff.

Definition pin_round_UP_one_minus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Zceil (1 - e) = 1 <-> e < (bpow radix2 (- p)))
  := round_UP_one_minus_eq_one_iff.

Definition pin_round_DN_one_minus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Zfloor (1 - e) = 1 <-> e = 0)
  := round_DN_one_minus_eq_one_iff.

Definition pin_round_ZR_one_minus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Ztrunc (1 - e) = 1 <-> e = 0)
  := round_ZR_one_minus_eq_one_iff.

Definition pin_round_odd_one_minus_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall e, 0 <= e -> (rndm p emin Zrnd_odd (1 - e) = 1 <-> e = 0)
  := round_odd_one_minus_eq_one_iff.

Definition pin_round_NE_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, 0 <= x -> (rndm p emin ZnearestE x = 0 <-> x <= bpow radix2 emin / 2)
  := round_NE_eq_zero_iff.

Definition pin_round_NA_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, 0 <= x -> (rndm p emin ZnearestA x = 0 <-> x < bpow radix2 emin / 2)
  := round_NA_eq_zero_iff.

Definition pin_round_DN_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, 0 <= x -> (rndm p emin Zfloor x = 0 <-> x < bpow radix2 emin)
  := round_DN_eq_zero_iff.

Definition pin_round_ZR_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, 0 <= x -> (rndm p emin Ztrunc x = 0 <-> x < bpow radix2 emin)
  := round_ZR_eq_zero_iff.

Definition pin_round_UP_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, 0 <= x -> (rndm p emin Zceil x = 0 <-> x = 0)
  := round_UP_eq_zero_iff.

Definition pin_round_odd_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, 0 <= x -> (rndm p emin Zrnd_odd x = 0 <-> x = 0)
  := round_odd_eq_zero_iff.

Definition pin_top_output_NE_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (rndm p emin ZnearestE (1 / rndm p emin ZnearestE (1 + r)) = 1 <-> r <= (bpow radix2 (- p)))
  := top_output_NE_eq_one_iff.

Definition pin_top_output_NA_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (rndm p emin ZnearestA (1 / rndm p emin ZnearestA (1 + r)) = 1 <-> r < (bpow radix2 (- p)))
  := top_output_NA_eq_one_iff.

Definition pin_top_output_DN_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (rndm p emin Zfloor (1 / rndm p emin Zfloor (1 + r)) = 1 <-> r < 2 * (bpow radix2 (- p)))
  := top_output_DN_eq_one_iff.

Definition pin_top_output_ZR_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (rndm p emin Ztrunc (1 / rndm p emin Ztrunc (1 + r)) = 1 <-> r < 2 * (bpow radix2 (- p)))
  := top_output_ZR_eq_one_iff.

Definition pin_top_output_UP_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (rndm p emin Zceil (1 / rndm p emin Zceil (1 + r)) = 1 <-> r = 0)
  := top_output_UP_eq_one_iff.

Definition pin_top_output_odd_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (rndm p emin Zrnd_odd (1 / rndm p emin Zrnd_odd (1 + r)) = 1 <-> r = 0)
  := top_output_odd_eq_one_iff.

(** ** TopOutputTwoClass *)
Definition pin_top_output_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> (top p emin r = 1 <-> r <= bpow radix2 (- p))
  := top_output_eq_one_iff.

Definition pin_top_output_le_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, 0 <= r -> top p emin r <= 1
  := top_output_le_one.

Definition pin_top_one_iff_rounded_exp_le : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, top p emin (rnd p emin (exp (- g))) = 1 <-> rnd p emin (exp (- g)) <= bpow radix2 (- p)
  := top_one_iff_rounded_exp_le.

Definition pin_top_one_stays_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g g', g <= g' -> top p emin (rnd p emin (exp (- g))) = 1 -> top p emin (rnd p emin (exp (- g'))) = 1
  := top_one_stays_one.

Definition pin_top_one_stays_one_any_exp : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall E : R -> R, (forall g, 0 <= E g) -> (forall g g', g <= g' -> E g' <= E g) ->
  forall g g', g <= g' -> top p emin (E g) = 1 -> top p emin (E g') = 1
  := top_one_stays_one_any_exp.

Definition pin_other_zero_iff_rounded_exp_zero : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, 0 <= g -> (other p emin (rnd p emin (exp (- g))) = 0 <-> rnd p emin (exp (- g)) = 0)
  := other_zero_iff_rounded_exp_zero.

(** The reciprocal form: 1 / s once, then each exponential times it. *)
Definition pin_top_output_recip_eq : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, rnd p emin (1 * rnd p emin (1 / rnd p emin (1 + r))) = top p emin r
  := top_output_recip_eq.

Definition pin_other_output_recip_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, F p emin r -> 0 <= r <= 1 -> (rnd p emin (r * rnd p emin (1 / rnd p emin (1 + r))) = 0 <-> r = 0)
  := other_output_recip_eq_zero_iff.

Definition pin_other_recip_zero_iff_rounded_exp_zero : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, 0 <= g ->
  (rnd p emin (rnd p emin (exp (- g)) * rnd p emin (1 / rnd p emin (1 + rnd p emin (exp (- g))))) = 0 <->
   rnd p emin (exp (- g)) = 0)
  := other_recip_zero_iff_rounded_exp_zero.

Definition pin_outputs_sum_above_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, 0 <= g -> top p emin (rnd p emin (exp (- g))) = 1 -> rnd p emin (exp (- g)) <> 0 ->
  other p emin (rnd p emin (exp (- g))) = rnd p emin (exp (- g)) /\
  top p emin (rnd p emin (exp (- g))) + other p emin (rnd p emin (exp (- g))) > 1
  := outputs_sum_above_one.

Definition pin_sum_above_one_window_exists : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  exists g, 0 <= g /\ top p emin (rnd p emin (exp (- g))) = 1 /\ other p emin (rnd p emin (exp (- g))) <> 0
  := sum_above_one_window_exists.

(** ** MClassesTopFirst *)
Definition pin_top_output_m_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall rs, Forall (fun r => 0 <= r) rs ->
  (rnd p emin (1 / sum_top_first p emin rs) = 1 <-> Forall (fun r => r <= bpow radix2 (- p)) rs)
  := top_output_m_eq_one_iff.

Definition pin_top_output_m_le_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall rs, Forall (fun r => 0 <= r) rs -> rnd p emin (1 / sum_top_first p emin rs) <= 1
  := top_output_m_le_one.

Definition pin_top_m_one_from_two_class_threshold : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall T gs, rnd p emin (exp (- T)) <= bpow radix2 (- p) -> Forall (fun g => T <= g) gs ->
  rnd p emin (1 / sum_top_first p emin (map (fun g => rnd p emin (exp (- g))) gs)) = 1
  := top_m_one_from_two_class_threshold.

Definition pin_others_m_zero_from_two_class_threshold : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall T0 gs, rnd p emin (exp (- T0)) = 0 -> Forall (fun g => T0 <= g) gs ->
  Forall (fun r => rnd p emin (r / sum_top_first p emin (map (fun g => rnd p emin (exp (- g))) gs)) = 0)
    (map (fun g => rnd p emin (exp (- g))) gs)
  := others_m_zero_from_two_class_threshold.

(** ** KernelExpError *)
Definition pin_kernel_top_one_from_gap_of_bound : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall k T e em1 u s, 0 <= k -> em1 = (e - 1)%Z -> u = FLT_exp emin p e -> s = Z.max (1 - 2 * p) emin ->
  bpow radix2 em1 <= exp (- T) < bpow radix2 e ->
  exp (- T) + k * bpow radix2 u < bpow radix2 (- p) + bpow radix2 s ->
  forall g r, T <= g -> F p emin r -> 0 <= r -> Rabs (r - exp (- g)) <= k * ulp p emin (exp (- g)) ->
  top p emin r = 1
  := kernel_top_one_from_gap_of_bound.

Definition pin_kernel_top_below_one_of_bound : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall k T e em1 u q, 0 <= k -> q = (1 - p)%Z -> k * bpow radix2 q <= 1 -> (emin + p - 1 <= e)%Z ->
  em1 = (e - 1)%Z -> u = FLT_exp emin p e ->
  bpow radix2 em1 <= exp (- T) < bpow radix2 e ->
  bpow radix2 (- p) < exp (- T) - k * bpow radix2 u ->
  bpow radix2 (- p) < bpow radix2 e * (1 - k * bpow radix2 q) ->
  forall g r, g <= T -> Rabs (r - exp (- g)) <= k * ulp p emin (exp (- g)) -> top p emin r < 1
  := kernel_top_below_one_of_bound.

(** ** Lemma22Reals: p1 = e^u1 / (e^u1 + e^ut + c), p_t likewise, l1 the top output after adding v. *)
Definition pin_lemma_2_2_corrected : forall u1 ut c v1 vt, 0 <= c ->
  (exp (u1 + v1) / (exp (u1 + v1) + exp (ut + vt) + c) < exp u1 / (exp u1 + exp ut + c) <->
   exp ut / (exp u1 + exp ut + c) * (exp (vt - v1) - 1) >
   (1 - exp u1 / (exp u1 + exp ut + c) - exp ut / (exp u1 + exp ut + c)) * (1 - exp (- v1)))
  := lemma_2_2_corrected.

Definition pin_lemma_2_2_two_classes : forall u1 ut v1 vt,
  (exp (u1 + v1) / (exp (u1 + v1) + exp (ut + vt) + 0) < exp u1 / (exp u1 + exp ut + 0) <-> v1 < vt)
  := lemma_2_2_two_classes.

Definition pin_lemma_2_2_as_written_is_false : ~ (forall u1 u2 u3 v1 v2 : R,
  exp u1 > exp u2 -> exp u1 > exp u3 -> v2 > v1 -> v1 > 0 -> u1 + v1 > u2 + v2 ->
  exp (u1 + v1) > exp (u2 + v2) /\
  exp (u1 + v1) / (exp (u1 + v1) + exp (u2 + v2) + exp u3) < exp u1 / (exp u1 + exp u2 + exp u3))
  := lemma_2_2_as_written_is_false.

(** ** Lemma21DeltaGrid: the exact softmax of (v1, us) with c = Σ e^(u_i), each output rounded once. *)
Definition pin_lemma_2_1_delta_grid_paper_rule :
  forall (delta : R) (rd : R -> R), 0 < delta ->
  (forall x, 0 <= x < delta -> rd x = 0) -> (forall x, 1 - delta < x <= 1 -> rd x = 1) ->
  forall u1 us, exp u1 / (exp u1 + fold_right Rplus 0 (map exp us)) > 1 - delta ->
  forall v1, u1 <= v1 ->
  rd (exp v1 / (exp v1 + fold_right Rplus 0 (map exp us))) = 1 /\
  Forall (fun ui => rd (exp ui / (exp v1 + fold_right Rplus 0 (map exp us))) = 0) us
  := lemma_2_1_delta_grid_paper_rule.

Definition pin_lemma_2_1_delta_grid_nearest :
  forall (choice : Z -> bool) (n : Z), (1 <= n)%Z ->
  forall u1 us, exp u1 / (exp u1 + fold_right Rplus 0 (map exp us)) > 1 - / (2 * IZR n) ->
  forall v1, u1 <= v1 ->
  IZR (Znearest choice (exp v1 / (exp v1 + fold_right Rplus 0 (map exp us)) * IZR n)) / IZR n = 1 /\
  Forall (fun ui => IZR (Znearest choice (exp ui / (exp v1 + fold_right Rplus 0 (map exp us)) * IZR n)) / IZR n = 0)
    us
  := lemma_2_1_delta_grid_nearest.

(** ** OnlineFp8Offset: P = 2^(d + offset) with d <= tau against the format's maximum M. *)
Definition pin_fp8_offset_no_clip : forall M offset tau d, 0 < M -> offset + tau <= ln M / ln 2 -> d <= tau ->
  Rpower 2 (d + offset) <= M
  := fp8_offset_no_clip.

Definition pin_fp8_offset_clips : forall M offset tau, 0 < M -> ln M / ln 2 < offset + tau ->
  exists d, d <= tau /\ M < Rpower 2 (d + offset)
  := fp8_offset_clips.

Definition pin_e4m3_offset8_tau4_clips : exists d, d <= 4 /\ 448 < Rpower 2 (d + 8)
  := e4m3_offset8_tau4_clips.

(** ** IEEESoftmax: the kernel on IEEE 754 binary floats, the subtraction of the logits included *)
Definition pin_kernel_overflow_one_zero :
  forall prec emax `{Prec_gt_0 prec} `{Prec_lt_emax prec emax} (E : binary_float prec emax -> binary_float prec emax),
  exp_ok prec emax E -> forall x1 x2, Bminus mode_NE x2 x1 = B754_infinity true ->
  B2R (ieee_top E x1 x2) = 1 /\ is_finite (ieee_top E x1 x2) = true /\ ieee_other E x1 x2 = B754_zero false
  := kernel_overflow_one_zero.

Definition pin_kernel_no_inf_overflow_nan :
  forall prec emax `{Prec_gt_0 prec} `{Prec_lt_emax prec emax} (E : binary_float prec emax -> binary_float prec emax),
  exp_ok prec emax E -> forall x1 x2 sgn, Bminus mode_NE x2 x1 = B754_infinity sgn ->
  nan_if_inf (Bdiv mode_NE Bone (no_inf_s E x1 x2)) = B754_nan /\
  nan_if_inf (Bdiv mode_NE (no_inf_r E x1 x2) (no_inf_s E x1 x2)) = B754_nan
  := kernel_no_inf_overflow_nan.

Definition pin_kernel_is_flt_model :
  forall prec emax `{Prec_gt_0 prec} `{Prec_lt_emax prec emax}, (2 <= prec)%Z -> (4 <= emax)%Z ->
  forall E : binary_float prec emax -> binary_float prec emax, exp_ok prec emax E ->
  forall x1 x2, is_finite x1 = true -> is_finite x2 = true -> B2R x2 <= B2R x1 ->
  Rabs (rnd prec (3 - emax - prec)%Z (B2R x2 - B2R x1)) < bpow radix2 emax ->
  B2R (ieee_top E x1 x2) =
    top prec (3 - emax - prec)%Z (rnd prec (3 - emax - prec)%Z (exp (rnd prec (3 - emax - prec)%Z (B2R x2 - B2R x1)))) /\
  B2R (ieee_other E x1 x2) =
    other prec (3 - emax - prec)%Z (rnd prec (3 - emax - prec)%Z (exp (rnd prec (3 - emax - prec)%Z (B2R x2 - B2R x1)))) /\
  is_finite (ieee_top E x1 x2) = true /\ is_finite (ieee_other E x1 x2) = true
  := kernel_is_flt_model.

Definition pin_ieee_top_one_iff :
  forall prec emax `{Prec_gt_0 prec} `{Prec_lt_emax prec emax}, (2 <= prec)%Z -> (4 <= emax)%Z ->
  forall E : binary_float prec emax -> binary_float prec emax, exp_ok prec emax E ->
  forall x1 x2, is_finite x1 = true -> is_finite x2 = true -> B2R x2 <= B2R x1 ->
  Rabs (rnd prec (3 - emax - prec)%Z (B2R x2 - B2R x1)) < bpow radix2 emax ->
  (B2R (ieee_top E x1 x2) = 1 <->
   rnd prec (3 - emax - prec)%Z (exp (rnd prec (3 - emax - prec)%Z (B2R x2 - B2R x1))) <= bpow radix2 (- prec))
  := ieee_top_one_iff.

(** binary16 (11 bits, infinities at 2^16), logits 60000 = 1875·2^5 and −60000. *)
Definition pin_binary16_overflow_gives_one_zero : forall E : binary_float 11 16 -> binary_float 11 16,
  exp_ok 11%Z 16%Z E ->
  B2R (ieee_top E (@B754_finite 11 16 false 1875 5 eq_refl) (@B754_finite 11 16 true 1875 5 eq_refl)) = 1 /\
  ieee_other E (@B754_finite 11 16 false 1875 5 eq_refl) (@B754_finite 11 16 true 1875 5 eq_refl) = B754_zero false
  := binary16_overflow_gives_one_zero.

(** Four bits without infinity (e4m3's precision, infinities would be at 2^9), logits 448 = 14·2^5 and −448. *)
Definition pin_e4m3_no_inf_overflow_gives_nan : forall E : binary_float 4 9 -> binary_float 4 9,
  exp_ok 4%Z 9%Z E ->
  nan_if_inf (Bdiv mode_NE Bone (no_inf_s E (@B754_finite 4 9 false 14 5 eq_refl) (@B754_finite 4 9 true 14 5 eq_refl)))
    = B754_nan /\
  nan_if_inf (Bdiv mode_NE (no_inf_r E (@B754_finite 4 9 false 14 5 eq_refl) (@B754_finite 4 9 true 14 5 eq_refl))
                           (no_inf_s E (@B754_finite 4 9 false 14 5 eq_refl) (@B754_finite 4 9 true 14 5 eq_refl)))
    = B754_nan
  := e4m3_no_inf_overflow_gives_nan.

(** ** Log1pForm, Lemma22Rounded, Lemma22IEEE (issue 27, item 3): the division-free log1p form and Lemma 2.2
    rounded.  log1p r is [ln (1 + r)]; the log1p form's top log-probability is rnd(0 − rnd(log1p r)), its top
    output rnd(exp(rnd(x1 − rnd(x1 + rnd(log1p r))))). *)
From SoftmaxSat Require Import Log1pForm Lemma22Rounded Lemma22IEEE.

Definition pin_log1p_logprob_eq_zero_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, F p emin r -> 0 <= r -> (rnd p emin (0 - rnd p emin (ln (1 + r))) = 0 <-> r = 0)
  := log1p_logprob_eq_zero_iff.

Definition pin_log1p_logprob_zero_iff_exp_le : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, rnd p emin (0 - rnd p emin (ln (1 + rnd p emin (exp (- g))))) = 0 <-> exp (- g) <= bpow radix2 emin / 2
  := log1p_logprob_zero_iff_exp_le.

Definition pin_log1p_logprob_zero_iff_other_zero : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, 0 <= g ->
  (rnd p emin (0 - rnd p emin (ln (1 + rnd p emin (exp (- g))))) = 0 <-> other p emin (rnd p emin (exp (- g))) = 0)
  := log1p_logprob_zero_iff_other_zero.

Definition pin_round_exp_neg_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x, F p emin x -> 0 <= x -> (rnd p emin (exp (- x)) = 1 <-> x <= bpow radix2 (- p - 1))
  := round_exp_neg_eq_one_iff.

Definition pin_top_output_log1p_at_zero_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r, F p emin r -> 0 <= r ->
  (rnd p emin (exp (rnd p emin (0 - rnd p emin (0 + rnd p emin (ln (1 + r)))))) = 1 <-> r <= bpow radix2 (- p - 1))
  := top_output_log1p_at_zero_eq_one_iff.

Definition pin_top_output_log1p_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall x1 r, F p emin x1 -> / 2 <= x1 -> 0 <= r ->
  (rnd p emin (exp (rnd p emin (x1 - rnd p emin (x1 + rnd p emin (ln (1 + r)))))) = 1 <->
   rnd p emin (x1 + rnd p emin (ln (1 + r))) = x1)
  := top_output_log1p_eq_one_iff.

Definition pin_top_output_antitone : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall r r', 0 <= r <= r' -> top p emin r' <= top p emin r
  := top_output_antitone.

Definition pin_lemma_2_2_rounded_no_increase : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall d d', d <= d' -> top p emin (rnd p emin (exp (rnd p emin d'))) <= top p emin (rnd p emin (exp (rnd p emin d)))
  := lemma_2_2_rounded_no_increase.

Definition pin_lemma_2_2_rounded_equal_once_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall d d', d <= d' -> top p emin (rnd p emin (exp (rnd p emin d'))) = 1 -> top p emin (rnd p emin (exp (rnd p emin d))) = 1
  := lemma_2_2_rounded_equal_once_one.

Definition pin_lemma_2_2_rounded_drops_before_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z -> (5 <= p)%Z ->
  top p emin (rnd p emin (exp (rnd p emin (0 - 2)))) < 1 /\
  top p emin (rnd p emin (exp (rnd p emin (5 / 2 - 3)))) < top p emin (rnd p emin (exp (rnd p emin (0 - 2))))
  := lemma_2_2_rounded_drops_before_one.

Definition pin_ieee_raise_top_keeps_one :
  forall prec emax `{Prec_gt_0 prec} `{Prec_lt_emax prec emax}, (2 <= prec)%Z -> (4 <= emax)%Z ->
  forall E : binary_float prec emax -> binary_float prec emax, exp_ok prec emax E ->
  forall x1 x2 y1, is_finite x1 = true -> is_finite x2 = true -> is_finite y1 = true ->
  B2R x2 <= B2R x1 -> B2R x1 <= B2R y1 ->
  Rabs (rnd prec (3 - emax - prec)%Z (B2R x2 - B2R x1)) < bpow radix2 emax ->
  B2R (ieee_top E x1 x2) = 1 -> B2R (ieee_top E y1 x2) = 1
  := ieee_raise_top_keeps_one.

(** binary32 (24 bits, infinities at 2^128): logits (30, 0) = (15728640·2^−19, +0) raised to
    (31, 1.1f) = (16252928·2^−19, 9227469·2^−23). *)
Definition pin_binary32_lemma_2_2_both_one : forall E : binary_float 24 128 -> binary_float 24 128,
  exp_ok 24%Z 128%Z E ->
  B2R (ieee_top E (@B754_finite 24 128 false 15728640 (-19) eq_refl) (B754_zero false)) = 1 /\
  B2R (ieee_top E (@B754_finite 24 128 false 16252928 (-19) eq_refl) (@B754_finite 24 128 false 9227469 (-23) eq_refl)) = 1
  := binary32_lemma_2_2_both_one.

(** ** MClassesOtherOrders, ThresholdClosedForm (issue 27, item 3): M classes summed rivals first and by any
    summation tree (pairwise), and the two-class threshold in closed form. *)
From SoftmaxSat Require Import MClassesOtherOrders ThresholdClosedForm.

Definition pin_top_rivals_first_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall rs, Forall (fun r => 0 <= r) rs ->
  (rnd p emin (1 / rnd p emin (fold_left (fun s r => rnd p emin (s + r)) rs 0 + 1)) = 1 <->
   fold_left (fun s r => rnd p emin (s + r)) rs 0 <= bpow radix2 (- p))
  := top_rivals_first_eq_one_iff.

Definition pin_rivals_first_one_implies_top_first_one : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall rs, Forall (fun r => F p emin r /\ 0 <= r) rs ->
  rnd p emin (1 / rnd p emin (fold_left (fun s r => rnd p emin (s + r)) rs 0 + 1)) = 1 ->
  Forall (fun r => r <= bpow radix2 (- p)) rs /\ rnd p emin (1 / sum_top_first p emin rs) = 1
  := rivals_first_one_implies_top_first_one.

(** A summation tree's rounded sum and its leaves are written out as [fix] terms. *)
Definition pin_tree_top_eq_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall t, Forall (fun r => F p emin r /\ 0 <= r) ((fix lv (t : sum_tree) : list R :=
      match t with Leaf x => x :: nil | Node l r => lv l ++ lv r end) t) ->
  In 1 ((fix lv (t : sum_tree) : list R :=
      match t with Leaf x => x :: nil | Node l r => lv l ++ lv r end) t) ->
  (rnd p emin (1 / (fix ts (t : sum_tree) : R :=
      match t with Leaf x => x | Node l r => rnd p emin (ts l + ts r) end) t) = 1 <->
   (fix ts (t : sum_tree) : R :=
      match t with Leaf x => x | Node l r => rnd p emin (ts l + ts r) end) t = 1)
  := tree_top_eq_one_iff.

Definition pin_tree_node_one_iff : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall l r, Forall (fun x => F p emin x /\ 0 <= x) ((fix lv (t : sum_tree) : list R :=
      match t with Leaf x => x :: nil | Node l r => lv l ++ lv r end) (Node l r)) ->
  In 1 ((fix lv (t : sum_tree) : list R :=
      match t with Leaf x => x :: nil | Node l r => lv l ++ lv r end) l) ->
  ((fix ts (t : sum_tree) : R :=
      match t with Leaf x => x | Node l r => rnd p emin (ts l + ts r) end) (Node l r) = 1 <->
   (fix ts (t : sum_tree) : R :=
      match t with Leaf x => x | Node l r => rnd p emin (ts l + ts r) end) l = 1 /\
   (fix ts (t : sum_tree) : R :=
      match t with Leaf x => x | Node l r => rnd p emin (ts l + ts r) end) r <= bpow radix2 (- p) /\
   Forall (fun x => x <= bpow radix2 (- p)) ((fix lv (t : sum_tree) : list R :=
      match t with Leaf x => x :: nil | Node l r => lv l ++ lv r end) r))
  := tree_node_one_iff.

Definition pin_top_one_iff_gap_ge : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, top p emin (rnd p emin (exp (- g))) = 1 <->
  - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= g
  := top_one_iff_gap_ge.

Definition pin_format_threshold_of_closed_form : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall G, pred radix2 (FLT_exp emin p) G < - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= G ->
  (forall g, G <= g -> top p emin (rnd p emin (exp (- g))) = 1) /\
  top p emin (rnd p emin (exp (- pred radix2 (FLT_exp emin p) G))) < 1
  := format_threshold_of_closed_form.

(** ** SumAboveOneWindow (issue 27, item 3): the outputs sum to more than 1 on every gap of [T, T0). *)
From SoftmaxSat Require Import SumAboveOneWindow.

Definition pin_window_closed_form : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, 0 <= g ->
  (top p emin (rnd p emin (exp (- g))) = 1 /\ other p emin (rnd p emin (exp (- g))) <> 0 <->
   - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= g < - ln (bpow radix2 emin / 2))
  := window_closed_form.

Definition pin_sum_above_one_closed_form : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall g, 0 <= g ->
  - ln (bpow radix2 (- p) + bpow radix2 (Z.max (1 - 2 * p) emin - 1)) <= g < - ln (bpow radix2 emin / 2) ->
  top p emin (rnd p emin (exp (- g))) + other p emin (rnd p emin (exp (- g))) > 1
  := sum_above_one_closed_form.

Definition pin_sum_above_one_on_format_window : forall p emin, (2 <= p)%Z -> (emin <= - p - 1)%Z ->
  forall T T0, (forall g, T <= g -> top p emin (rnd p emin (exp (- g))) = 1) -> F p emin T0 ->
  other p emin (rnd p emin (exp (- pred radix2 (FLT_exp emin p) T0))) <> 0 ->
  forall g, F p emin g -> 0 <= g -> T <= g < T0 ->
  top p emin (rnd p emin (exp (- g))) = 1 /\ other p emin (rnd p emin (exp (- g))) = rnd p emin (exp (- g)) /\
  top p emin (rnd p emin (exp (- g))) + other p emin (rnd p emin (exp (- g))) > 1
  := sum_above_one_on_format_window.
