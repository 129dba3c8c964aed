(** * The two-class max-shifted softmax on IEEE 754 binary floats: overflow, infinities and NaN

    The other files use Flocq's FLT model, whose exponent is unbounded: nothing overflows there.  Here the kernel
    runs on Flocq's IEEE 754 model ([BinarySingleNaN]: [prec] significand bits, infinities at exponent [emax],
    ±0, ±∞ and NaN; [Bminus], [Bplus], [Bdiv] round to nearest even and overflow to ±∞), the subtraction of the
    logits included.  With x1 the larger logit and x2 the rival:
      d = x2 − x1,  r = exp(d),  s = 1 + r,  top = 1 / s,  other = r / s
    (the top class's own exp(x1 − x1) = exp(0) = 1 exactly).  The exp is any function with the values IEEE 754
    requires of a correctly rounded exp where the kernel uses it: exp(−∞) = +0, exp(NaN) = NaN, and for a finite
    d ≤ 0 the correctly rounded e^d.  A format without infinity (float8 e4m3fn) is modelled by [no_inf]: an
    infinite result of an operation on finite operands (an overflow) is NaN instead, as in ml_dtypes.

    Where nothing overflows, the IEEE kernel computes exactly the FLT model's outputs ([kernel_is_flt_model]), so
    every theorem of [TopOutputTwoClass] applies ([ieee_top_one_iff]); where the subtraction overflows, the row is
    exactly (1, +0) with infinities ([kernel_overflow_one_zero]; binary16 with 60000 and −60000) and NaN without
    ([kernel_no_inf_overflow_nan]; 448 and −448 in a 4-bit format). *)
From Coq Require Import Reals Lra Lia ZArith.
From Flocq Require Import Core IEEE754.BinarySingleNaN.
From SoftmaxSat Require Import RoundOnePlus TopOutputTwoClass.
Open Scope R_scope.
Set Default Proof Using "Type".

Section IEEESoftmax.

Variables prec emax : Z.
Context {prec_gt_0_ : Prec_gt_0 prec} {prec_lt_emax_ : Prec_lt_emax prec emax}.

Local Notation bf := (binary_float prec emax).
Local Notation fexp := (FLT_exp (3 - emax - prec) prec).
Local Notation rnd := (round radix2 (FLT_exp (3 - emax - prec) prec) ZnearestE).

(** What the kernel needs of exp: IEEE 754's values at −∞ and NaN, and correct rounding at finite d ≤ 0. *)
Definition exp_spec (E : bf -> bf) : Prop :=
  E (B754_infinity true) = B754_zero false /\ E B754_nan = B754_nan /\
  forall d, is_finite d = true -> B2R d <= 0 ->
  B2R (E d) = round radix2 (FLT_exp (3 - emax - prec) prec) ZnearestE (exp (B2R d)) /\ is_finite (E d) = true.

(** The kernel: (top output, other output) from the logits x1 (the larger) and x2. *)
Definition kernel (E : bf -> bf) (x1 x2 : bf) : bf * bf :=
  let r := E (Bminus mode_NE x2 x1) in
  let s := Bplus mode_NE Bone r in
  (Bdiv mode_NE Bone s, Bdiv mode_NE r s).

(** A format without infinity: an overflow gives NaN. *)
Definition no_inf (x : bf) : bf := match x with B754_infinity _ => B754_nan | _ => x end.

Definition kernel_no_inf (E : bf -> bf) (x1 x2 : bf) : bf * bf :=
  let r := E (no_inf (Bminus mode_NE x2 x1)) in
  let s := no_inf (Bplus mode_NE Bone r) in
  (no_inf (Bdiv mode_NE Bone s), no_inf (Bdiv mode_NE r s)).

Lemma Bplus_zero_r : forall m (x : bf) b, is_finite_strict x = true -> Bplus m x (B754_zero b) = x.
Proof. intros m [| | |sx mx ex Hx] b H; easy. Qed.

Lemma Bplus_nan_r : forall m (x : bf), Bplus m x B754_nan = B754_nan.
Proof. intros m [| | |sx mx ex Hx]; easy. Qed.

Lemma Bdiv_nan_l : forall m (y : bf), Bdiv m B754_nan y = B754_nan.
Proof. intros m [| | |sy my ey Hy]; easy. Qed.

Lemma Bdiv_nan_r : forall m (x : bf), Bdiv m x B754_nan = B754_nan.
Proof. intros m [| | |sx mx ex Hx]; easy. Qed.

Lemma Bdiv_zero_l : forall m (y : bf), is_finite_strict y = true -> Bsign y = false ->
  Bdiv m (B754_zero false) y = B754_zero false.
Proof. intros m [| | |sy my ey Hy] H S; try easy. simpl in S. now subst. Qed.

Lemma emax_gt_1 : (1 < emax)%Z.
Proof using prec_gt_0_ prec_lt_emax_. unfold Prec_gt_0, Prec_lt_emax in *. lia. Qed.

Lemma format_one_binary : generic_format radix2 fexp 1.
Proof using prec_gt_0_ prec_lt_emax_.
  apply generic_format_bpow with (e := 0%Z). unfold FLT_exp. unfold Prec_gt_0, Prec_lt_emax in *. lia.
Qed.

Lemma Bdiv_one_one :
  B2R (Bdiv (prec := prec) (emax := emax) mode_NE Bone Bone) = 1 /\
  is_finite (Bdiv (prec := prec) (emax := emax) mode_NE Bone Bone) = true.
Proof using prec_gt_0_ prec_lt_emax_.
  assert (N : B2R (prec := prec) (emax := emax) Bone <> 0) by (rewrite Bone_correct; lra).
  pose proof (Bdiv_correct prec emax _ _ mode_NE Bone Bone N) as D.
  change (SpecFloat.fexp prec emax) with fexp in D. change (round_mode mode_NE) with ZnearestE in D.
  rewrite Bone_correct in D. replace (1 / 1) with 1 in D by field.
  rewrite (round_generic radix2 fexp ZnearestE 1 format_one_binary) in D.
  rewrite Rlt_bool_true in D.
  - destruct D as [D [F _]]. split; [exact D | rewrite F; apply is_finite_Bone].
  - rewrite Rabs_R1. replace 1 with (bpow radix2 0) by reflexivity. apply bpow_lt. pose proof emax_gt_1. lia.
Qed.

(** ** The subtraction overflows to −∞: the row is exactly (1, +0) *)
Theorem kernel_overflow_one_zero : forall E, exp_spec E -> forall x1 x2,
  Bminus mode_NE x2 x1 = B754_infinity true ->
  B2R (fst (kernel E x1 x2)) = 1 /\ is_finite (fst (kernel E x1 x2)) = true /\
  snd (kernel E x1 x2) = B754_zero false.
Proof.
  intros E [Einf _] x1 x2 H. unfold kernel. cbv zeta. rewrite H, Einf. cbn [fst snd].
  replace (Bplus mode_NE Bone (B754_zero false)) with (Bone (prec := prec) (emax := emax))
    by (symmetry; apply Bplus_zero_r; apply is_finite_strict_Bone).
  destruct Bdiv_one_one as [D F]. split; [exact D | split; [exact F |]].
  apply Bdiv_zero_l; [apply is_finite_strict_Bone | apply Bsign_Bone].
Qed.

(** ** Without infinity, the overflowing subtraction is NaN, and so is every output *)
Theorem kernel_no_inf_overflow_nan : forall E, exp_spec E -> forall x1 x2 sgn,
  Bminus mode_NE x2 x1 = B754_infinity sgn ->
  fst (kernel_no_inf E x1 x2) = B754_nan /\ snd (kernel_no_inf E x1 x2) = B754_nan.
Proof.
  intros E [_ [Enan _]] x1 x2 sgn H. unfold kernel_no_inf. cbv zeta. rewrite H.
  change (no_inf (B754_infinity sgn)) with (B754_nan (prec := prec) (emax := emax)).
  rewrite Enan, Bplus_nan_r. change (no_inf B754_nan) with (B754_nan (prec := prec) (emax := emax)).
  rewrite Bdiv_nan_r. split; reflexivity.
Qed.

(** ** No overflow: the IEEE kernel is the FLT model of TopOutputTwoClass, at the gap g = −rnd(x2 − x1) *)
Hypothesis Hp : (2 <= prec)%Z.
Hypothesis Hemax : (4 <= emax)%Z.

Lemma Hemin : (3 - emax - prec <= - prec - 1)%Z.
Proof using Hp Hemax. lia. Qed.

Lemma two_lt_bpow_emax : 2 < bpow radix2 emax.
Proof using Hemax. replace 2 with (bpow radix2 1) by reflexivity. apply bpow_lt. lia. Qed.

Theorem kernel_is_flt_model : forall E, exp_spec E -> forall x1 x2,
  is_finite x1 = true -> is_finite x2 = true -> B2R x2 <= B2R x1 ->
  Rabs (rnd (B2R x2 - B2R x1)) < bpow radix2 emax ->
  B2R (fst (kernel E x1 x2)) = top_output prec (3 - emax - prec) (rnd (exp (rnd (B2R x2 - B2R x1)))) /\
  B2R (snd (kernel E x1 x2)) = other_output prec (3 - emax - prec) (rnd (exp (rnd (B2R x2 - B2R x1)))) /\
  is_finite (fst (kernel E x1 x2)) = true /\ is_finite (snd (kernel E x1 x2)) = true.
Proof using Hp Hemax.
  intros E [_ [_ Efin]] x1 x2 F1 F2 Hle Hov.
  pose proof (Hemin) as Hm.
  assert (F1r : generic_format radix2 fexp 1) by exact (format_one prec (3 - emax - prec) Hp Hm).
  assert (F2r : generic_format radix2 fexp 2)
    by exact (format_bpow_small prec (3 - emax - prec) Hp Hm 1 ltac:(lia)).
  pose proof two_lt_bpow_emax as T2.
  pose proof (Bminus_correct prec emax _ _ mode_NE x2 x1 F2 F1) as Bm.
  change (SpecFloat.fexp prec emax) with fexp in Bm. change (round_mode mode_NE) with ZnearestE in Bm.
  rewrite Rlt_bool_true in Bm by exact Hov. destruct Bm as [Bd [Fd _]].
  set (d := Bminus mode_NE x2 x1) in *.
  assert (Dle : B2R d <= 0).
  { rewrite Bd. apply round_le_generic; try exact _; [apply generic_format_0 | lra]. }
  destruct (Efin d Fd Dle) as [Er Fr]. set (r := E d) in *.
  assert (R0 : 0 <= B2R r).
  { rewrite Er. apply round_ge_generic; try exact _; [apply generic_format_0 | left; apply exp_pos]. }
  assert (R1 : B2R r <= 1).
  { rewrite Er. apply round_le_generic; try exact _; [exact F1r |].
    rewrite <- exp_0. destruct (Rle_lt_or_eq_dec _ _ Dle) as [L|E0]; [left; apply exp_increasing; lra|].
    rewrite E0; lra. }
  pose proof (Bplus_correct prec emax _ _ mode_NE Bone r (is_finite_Bone _ _ _ _) Fr) as Bp.
  change (SpecFloat.fexp prec emax) with fexp in Bp. change (round_mode mode_NE) with ZnearestE in Bp.
  rewrite Bone_correct in Bp.
  assert (S12 : 1 <= rnd (1 + B2R r) <= 2).
  { split; [apply round_ge_generic | apply round_le_generic]; try exact _; first [exact F1r | exact F2r | lra]. }
  rewrite Rlt_bool_true in Bp by (rewrite Rabs_pos_eq; lra). destruct Bp as [Bs [Fs _]].
  set (s := Bplus mode_NE Bone r) in *.
  assert (Sne : B2R s <> 0) by lra.
  assert (Q1 : 0 <= 1 / B2R s <= 1).
  { rewrite Bs. split; [apply Rmult_le_pos; [lra | left; apply Rinv_0_lt_compat; lra]|].
    unfold Rdiv. rewrite Rmult_1_l. apply Rle_trans with (/ 1); [apply Rinv_le_contravar; lra | rewrite Rinv_1; lra]. }
  assert (Q2 : 0 <= B2R r / B2R s <= 1).
  { rewrite Bs. split; [apply Rmult_le_pos; [lra | left; apply Rinv_0_lt_compat; lra]|].
    apply Rle_trans with (1 * / 1); [|lra]. unfold Rdiv.
    apply Rmult_le_compat; [lra | left; apply Rinv_0_lt_compat; lra | lra | apply Rinv_le_contravar; lra]. }
  assert (Bnd : forall q, 0 <= q <= 1 -> Rabs (rnd q) < bpow radix2 emax).
  { intros q Hq. assert (0 <= rnd q <= 1); [|rewrite Rabs_pos_eq; lra].
    split; [apply round_ge_generic | apply round_le_generic]; try exact _;
      first [exact F1r | apply generic_format_0 | lra]. }
  pose proof (Bnd _ Q1) as Dt. pose proof (Bnd _ Q2) as Do.
  pose proof (Bdiv_correct prec emax _ _ mode_NE Bone s Sne) as Bt.
  pose proof (Bdiv_correct prec emax _ _ mode_NE r s Sne) as Bo.
  change (SpecFloat.fexp prec emax) with fexp in Bt, Bo. change (round_mode mode_NE) with ZnearestE in Bt, Bo.
  rewrite Bone_correct in Bt. rewrite Rlt_bool_true in Bt by exact Dt. rewrite Rlt_bool_true in Bo by exact Do.
  destruct Bt as [Bt [Ft _]]. destruct Bo as [Bo [Fo _]].
  unfold kernel. cbv zeta. fold d. fold r. fold s. simpl fst; simpl snd.
  unfold top_output, other_output. rewrite <- Bd, <- Er, <- Bs.
  split; [exact Bt | split; [exact Bo | split; [rewrite Ft; apply is_finite_Bone | rewrite Fo; exact Fr]]].
Qed.

(** With no overflow, the FLT theorems read on the IEEE kernel: its top output is exactly 1 iff the rounded
    exponential of the rounded difference is at most 2^−prec. *)
Theorem ieee_top_one_iff : forall E, exp_spec E -> forall x1 x2,
  is_finite x1 = true -> is_finite x2 = true -> B2R x2 <= B2R x1 ->
  Rabs (rnd (B2R x2 - B2R x1)) < bpow radix2 emax ->
  (B2R (fst (kernel E x1 x2)) = 1 <-> rnd (exp (rnd (B2R x2 - B2R x1))) <= bpow radix2 (- prec)).
Proof using Hp Hemax.
  intros E HE x1 x2 F1 F2 Hle Hov.
  destruct (kernel_is_flt_model E HE x1 x2 F1 F2 Hle Hov) as [T _]. rewrite T.
  set (g := - rnd (B2R x2 - B2R x1)). replace (rnd (B2R x2 - B2R x1)) with (- g) by (unfold g; ring).
  exact (top_one_iff_rounded_exp_le prec (3 - emax - prec) Hp Hemin g).
Qed.

End IEEESoftmax.

(** ** Instances *)
(** binary16: 11 bits, infinities at exponent 16 (largest finite 65504). 60000 = 1875·2^5; 60000 − (−60000)
    = 120000 overflows, so the rival's difference is −∞. *)
Local Instance binary16_prec : Prec_gt_0 11 := eq_refl.
Local Instance binary16_emax : Prec_lt_emax 11 16 := eq_refl.
Definition binary16_60000 : binary_float 11 16 := @B754_finite 11 16 false 1875 5 eq_refl.
Definition binary16_minus_60000 : binary_float 11 16 := @B754_finite 11 16 true 1875 5 eq_refl.

Theorem binary16_overflow_gives_one_zero : forall E, exp_spec 11 16 E ->
  B2R (fst (kernel 11 16 E binary16_60000 binary16_minus_60000)) = 1 /\
  snd (kernel 11 16 E binary16_60000 binary16_minus_60000) = B754_zero false.
Proof.
  intros E HE. destruct (kernel_overflow_one_zero 11 16 E HE binary16_60000 binary16_minus_60000) as [T [_ O]].
  - vm_compute. reflexivity.
  - split; assumption.
Qed.

(** A 4-bit format without infinity (float8 e4m3fn's precision and exponents: infinities would sit at 2^9, its
    largest finite 1.110·2^8 = 448; this model also has 1.111·2^8 = 480, which e4m3fn spends on NaN, so it is
    e4m3fn wherever a result rounds to at most 448 or overflows both, as ±896 does).  448 = 14·2^5. *)
Local Instance e4m3_prec : Prec_gt_0 4 := eq_refl.
Local Instance e4m3_emax : Prec_lt_emax 4 9 := eq_refl.
Definition e4m3_448 : binary_float 4 9 := @B754_finite 4 9 false 14 5 eq_refl.
Definition e4m3_minus_448 : binary_float 4 9 := @B754_finite 4 9 true 14 5 eq_refl.

Theorem e4m3_no_inf_overflow_gives_nan : forall E, exp_spec 4 9 E ->
  fst (kernel_no_inf 4 9 E e4m3_448 e4m3_minus_448) = B754_nan /\
  snd (kernel_no_inf 4 9 E e4m3_448 e4m3_minus_448) = B754_nan.
Proof.
  intros E HE. apply (kernel_no_inf_overflow_nan 4 9 E HE e4m3_448 e4m3_minus_448 true). vm_compute. reflexivity.
Qed.
