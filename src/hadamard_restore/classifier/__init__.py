"""The clear-vs-degraded classifier that judges the loss search (docs/method.md 4): the ResNet with
a 2-logit head and ``clear_loss``, stage 1's upper objective (:mod:`.model`); beyond the paper, a
frozen ImageNet trunk with a trained head (:mod:`.features`); ``classifier.pt``, saved and loaded
without running code (:mod:`.checkpoint`); the training recipe (:mod:`.training`); held-out
accuracy and the one warning (:mod:`.reliability`); and the one entry point, reuse or train
(:func:`.provide.provide_classifier`).
"""
