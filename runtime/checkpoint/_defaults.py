"""Default settings of the checkpoint tools, importable without torch (for ``--help``)."""

#: Robust-z threshold of an outlier weight. Fresh and briefly trained MLP, CNN (with
#: BatchNorm), Transformer and Embedding models stay below about 35 (tests/checkpoint
#: checks this); a flipped exponent bit or a corrupted value lands in the hundreds to 1e38.
DEFAULT_THRESHOLD = 50.0
#: Distance, in decades, of a tensor's RMS from its role's typical RMS that is a fracture;
#: healthy models stay within about 2.
DEFAULT_NORM_DECADES = 3.0
#: Fractures listed per tensor and kind (all of them are counted and repaired).
DEFAULT_MAX_PER_TENSOR = 20
#: Golden-repair passes (scan, blend) unless told otherwise.
DEFAULT_PASSES = 1
