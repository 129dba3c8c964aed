"""Language models: a causal model loaded offline (`models`), its logits watched token by token during generation
(`watch`, `tokens`), the study of item 3 of issue #25 (`study`), and the trainer-versus-sampler comparison of two
setups' log-probabilities (`compare`)."""
