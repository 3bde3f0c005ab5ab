"""ImageNet normalisation shared by the VGG taps and the classifier."""

import pytest
import torch

from hadamard_restore.losses.preprocess import IMAGENET_MEAN, IMAGENET_STD, imagenet_normalize


def test_mean_image_maps_to_zero_and_std_step_to_one():
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1).expand(2, 3, 5, 7)
    assert torch.allclose(imagenet_normalize(mean), torch.zeros(2, 3, 5, 7), atol=1e-7)
    shifted = mean + torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    assert torch.allclose(imagenet_normalize(shifted), torch.ones(2, 3, 5, 7), atol=1e-6)
    beyond = torch.full((1, 3, 2, 2), 1.5)  # no clamping of values above 1
    assert torch.allclose(imagenet_normalize(beyond)[0, 0], torch.full((2, 2), (1.5 - 0.485) / 0.229))


def test_rejects_non_rgb():
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        imagenet_normalize(torch.zeros(1, 4, 3, 3))
