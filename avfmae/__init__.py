"""AVF-MAE++: audio-visual masked autoencoder for affective video facial analysis (models, data, training)."""

__version__ = "0.1.0"
