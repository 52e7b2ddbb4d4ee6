"""Every ResNet depth Image Classification documents builds and maps images to class scores."""

import pytest
import torch

from localcloud.algorithms.image_classification.network import SUPPORTED_DEPTHS, ResNet


@pytest.mark.parametrize("depth", SUPPORTED_DEPTHS)
def test_every_documented_depth_builds_and_classifies(depth):
    net = ResNet(depth, num_classes=5).eval()
    with torch.no_grad():
        assert net(torch.zeros(2, 3, 32, 32)).shape == (2, 5)


def test_depth_18_has_the_expected_number_of_parameters():
    assert sum(p.numel() for p in ResNet(18, 1000).parameters()) == 11_689_512  # torchvision's resnet18 count
