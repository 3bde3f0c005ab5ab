"""The searchable Hadamard network (docs/method.md sections 1, 2 and 8): the candidate sets and
layer labels (:mod:`.primitives`) and ``OPS[name](c_in, c_out)`` (:mod:`.ops`); the mixed op of the
supernet and the chosen op of the derived net (:mod:`.mixed`); the layout both networks share
(:mod:`.hnu`, :mod:`.fcm`, :mod:`.backbone`); the supernet with alpha as ``nn.Parameter``
(:mod:`.supernet`), the derived ``HadamardNet`` (:mod:`.network`), genotypes with the bundled
``paper-*`` and ``all-*`` (:mod:`.genotype`), the one builder from a config (:mod:`.build`), the
small U-Net of the loss-search ablation (:mod:`.unet`) and parameters, MACs and peak activation
memory (:mod:`.info`).
"""
