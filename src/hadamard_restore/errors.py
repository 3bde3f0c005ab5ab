"""The error types a user can act on. Each message says what is wrong and what to do."""


class HadamardRestoreError(Exception):
    """Base class: the CLI prints these as one line instead of a traceback."""


class DataError(HadamardRestoreError, ValueError):
    """Bad input data: unreadable file, size mismatch, empty folder, unmatched names."""


class WeightsMissingError(HadamardRestoreError, FileNotFoundError):
    """A pretrained backbone is not provisioned; the message names the install command."""


class GenotypeError(HadamardRestoreError, ValueError):
    """A genotype file or name is malformed or unknown."""


class CheckpointError(HadamardRestoreError, ValueError):
    """A checkpoint is truncated, of another format, or does not fit the model."""


class LossWeightsError(HadamardRestoreError, ValueError):
    """A loss_weights.json file or name is malformed or unknown, or names VGG layers the backbone lacks."""


class WeightsSourceError(HadamardRestoreError, ValueError):
    """A pretrained-weights source is unusable: unsafe pickle, wrong shapes, bad hash."""


class DeviceError(HadamardRestoreError, ValueError):
    """A device name torch does not know, or a device this machine lacks."""
