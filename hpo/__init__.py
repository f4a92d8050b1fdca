"""clearml-hpo: hyperparameter optimisation for ClearML users."""

__version__ = "0.1.0"

__all__ = ["__version__"]
