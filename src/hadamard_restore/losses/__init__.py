"""The loss search space (docs/method.md 3): the eight losses as pure functions in the authors'
scales (:mod:`.functional`), the VGG taps and the searched-layer loss (:mod:`.vgg`), the loss mix
:class:`~.mix.LossMix` with ``beta`` and the VGG logits as parameters (:mod:`.mix`), and
``loss_weights.json`` with the bundled published weights (:mod:`.loss_weights`). The
clear-vs-degraded classifier that judges the loss search lives in :mod:`hadamard_restore.classifier`.
"""
