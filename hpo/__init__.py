"""clearml-hpo: hyperparameter optimisation for ClearML users."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from hpo.promotion import get_best_model


def __getattr__(name: str) -> Any:
    # Lazy: `import hpo` (the server, the agents) must not pay for optuna and the SDK.
    if name == "get_best_model":
        from hpo.promotion import get_best_model

        return get_best_model
    raise AttributeError(f"module 'hpo' has no attribute {name!r}")


__all__ = ["__version__", "get_best_model"]
