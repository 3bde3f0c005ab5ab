"""The clear-vs-degraded classifier that judges the loss search (docs/method.md 4).

- :mod:`.model`: the ResNet with a 2-logit head, ``clear_loss`` (stage 1's upper objective).
- :mod:`.features`: beyond the paper, a frozen ImageNet trunk (VGG16, AlexNet) with a trained head.
- :mod:`.checkpoint`: ``classifier.pt``, saved and loaded without running code.
- :mod:`.training`: the training recipe (windows of the judged size, BN recalibration).
- :mod:`.reliability`: held-out accuracy where stage 1 uses it, and the one warning.
- :mod:`.provide`: the one entry point, :func:`provide_classifier` (reuse or train).
"""

from hadamard_restore.classifier.checkpoint import load_classifier, save_classifier
from hadamard_restore.classifier.features import FEATURE_ARCHS, FeatureJudge
from hadamard_restore.classifier.model import (
    CLEAR,
    DEGRADED,
    ClearClassifier,
    build_classifier,
    clear_loss,
    freeze_classifier,
)
from hadamard_restore.classifier.provide import provide_classifier
from hadamard_restore.classifier.reliability import classifier_record, judge_record

__all__ = [
    "CLEAR",
    "DEGRADED",
    "FEATURE_ARCHS",
    "ClearClassifier",
    "FeatureJudge",
    "build_classifier",
    "classifier_record",
    "clear_loss",
    "freeze_classifier",
    "judge_record",
    "load_classifier",
    "provide_classifier",
    "save_classifier",
]
