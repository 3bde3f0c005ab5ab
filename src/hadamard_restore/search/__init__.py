"""The hierarchical bilevel search (method.md sections 4-6), read top to bottom:

- :mod:`.hypergrad`: the one unrolled hypergradient both stages use (FD / exact / first order).
- :mod:`.loop`: one bilevel step (upper then lower) and the loop with logging and checkpoints.
- :mod:`.state`: full-state checkpoints (both optimisers, every rank's random streams).
- :mod:`.data`: search-train / search-validation split and per-rank generators.
- :mod:`.loss_stage` (stage 1), :mod:`.arch_stage` (stage 2), :mod:`.joint_stage` (Ours_a).
- :mod:`.schedule`: stage 1 then stage 2, alternated t times, or the joint mode.
- helpers: :mod:`.build` (models, process setup), :mod:`.classifier`, :mod:`.ddp`,
  :mod:`.logs` (progress bar, TensorBoard), :mod:`.plots`, :mod:`.summary`.
"""
