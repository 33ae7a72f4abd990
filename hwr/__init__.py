"""hwr: a handwritten-word recognizer trained, tracked, registered and served through MLflow."""

__version__ = "0.1.0"
