"""Run infrastructure: device choice, seeding and the torch.distributed context (:mod:`.process`),
where bf16 is native (:mod:`.precision`), the package logger (:mod:`.log`) and the notice for work
that runs past a few seconds (:mod:`.slow`), every random stream captured and restored as plain
tensors (:mod:`.rng`), run directories (:mod:`.rundir`, :mod:`.rundir_lock`, :mod:`.run_session`),
nothing a user owns overwritten (:mod:`.output_guard`) and the one versioned checkpoint format,
read without running code (:mod:`.checkpoint`).
"""
