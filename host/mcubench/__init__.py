"""mcubench: take a trained model to numbers measured on a microcontroller."""

__version__ = "0.1.0"
