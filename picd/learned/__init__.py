"""The learned background codec (container background codec id 2).

- `picd.learned.model`: `LearnedCodecModel` (mean-scale hyperprior, gain units), `ModelConfig`.
- `picd.learned.codec`: `LearnedBackgroundCodec`, the `BackgroundCodec` that uses it.
- `picd.learned.weights`: shipped weights under ``picd/weights/`` with a SHA-256 manifest.
- `picd.learned.train`: ``python -m picd.learned.train`` trains and exports a model.
"""

from picd.learned.codec import LearnedBackgroundCodec

__all__ = ["LearnedBackgroundCodec"]
