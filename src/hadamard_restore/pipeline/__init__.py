"""From searched artifacts to something people use: checkpoints, training, evaluation,
the report, the whole run and the demo (design.md section 1, the right half of the picture)."""
