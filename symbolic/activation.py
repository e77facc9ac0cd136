"""The activations that wrap an assignment's affine pre-activation."""

from __future__ import annotations

import enum


class Activation(enum.Enum):
    """What wraps an assignment's affine pre-activation."""

    LINEAR = "linear"
    RELU = "relu"
    SIGMOID = "sigmoid"
