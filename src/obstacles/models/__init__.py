"""Models: timm backbones by name, the field's CNN (`field_cnn`), the Lightning module."""

from obstacles.models.backbone import check_backbone_name, create_backbone, load_network_weights
from obstacles.models.field_cnn import FieldCNN
from obstacles.models.module import ObstacleClassifier

__all__ = ["FieldCNN", "ObstacleClassifier", "check_backbone_name", "create_backbone", "load_network_weights"]
