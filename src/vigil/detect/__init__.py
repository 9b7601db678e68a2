"""vigil.detect: anomaly detectors (scores with reasons), their registry, and NAB scoring."""

from vigil.registry import Registry

# Explicit kind -> "module:Class"; imported only when used.
DETECTORS: Registry = Registry("detector", {
    "seasonal": "vigil.detect.detectors:SeasonalBaseline",
    "changepoint": "vigil.detect.detectors:ChangePoint",
    "spike": "vigil.detect.detectors:SpikeDip",
    "ensemble": "vigil.detect.detectors:Ensemble",
    "learned": "vigil.detect.learned:LearnedForest",
})
DEFAULT_DETECTOR = "ensemble"
