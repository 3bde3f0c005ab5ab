"""Photo files for ``enhance``: same format out as in, metadata carried (:mod:`.io`), inputs never
overwritten (:mod:`.plan`)."""
