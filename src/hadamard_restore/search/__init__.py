"""The hierarchical bilevel search (docs/method.md sections 4-6), read top to bottom:

- :mod:`.hypergrad`: the one unrolled hypergradient both stages use (FD / exact / first order).
- :mod:`.loop`: one bilevel step (upper then lower) and the loop with logging and checkpoints.
- :mod:`.state`: full-state checkpoints (both optimisers, every rank's random streams).
- :mod:`.data`: search-train / search-validation split and per-rank generators.
- :mod:`.stage`: the one skeleton every stage runs (:func:`~.stage.run_stage`).
- :mod:`.loss_stage` (stage 1), :mod:`.arch_stage` (stage 2), :mod:`.joint_stage` (Ours_a): each
  a problem builder and an artifact writer for that skeleton; :mod:`.outputs` holds the writers.
- :mod:`.hierarchy`: stage 1 then stage 2, alternated t times, or the joint mode.
- helpers: :mod:`.build` (models, objectives, process setup), :mod:`.ddp`,
  :mod:`.logs` (progress bar, TensorBoard), :mod:`.plots`, :mod:`.summary`.

Every entry point takes a :class:`~hadamard_restore.jobs.SearchJob` (its config sections and
explicit values), never the whole run config; stage 1's classifier comes from
:mod:`hadamard_restore.classifier`.
"""
