"""The ClearML SDK's request check without re-checking each request schema: the controller's CPU per call.

Before sending any API call the SDK checks the request against the endpoint's JSON schema
(``DataModel.validate``) with ``jsonschema.validate``, which first checks the SCHEMA itself against
the JSON Schema meta-schema, on every call. For ``tasks.edit`` or ``tasks.get_all`` that costs ~8-25 ms
a call, most of what a controller spends per trial (measured by ``bench/overhead.py`` with a cProfile
of the strategy's thread: 3.5 s of 5.0 s in 415 calls of a 20-trial search; launching a trial made
~12 calls, ~190 ms). :func:`install` makes the check keep one validator per schema: the schema is
checked once, every request is still checked in full against it, and a bad request raises the same
``jsonschema.ValidationError`` the SDK raises (``best_match`` of the same errors).

It changes nothing when the SDK's layout is not the one this was written against (the SDK's own
check then runs as before). Installing is process-wide and idempotent; the controller installs
it, and so does the agents' zygote (:mod:`hpo.agents._warm`) for the programs it forks.
Thread-safety: validators are built under a lock; a built one is only read.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

log = logging.getLogger(__name__)

_lock = threading.Lock()
_validators: dict[int, tuple[Any, Any]] = {}  # id(schema) -> (schema, validator); the schema kept alive
_installed = False


def _validator(cls: Any, schema: Any) -> Any:
    """The validator of ``schema``, built (and the schema checked) on first use."""
    found = _validators.get(id(schema))
    if found is not None and found[0] is schema:
        return found[1]
    with _lock:
        cls.check_schema(schema)  # what jsonschema.validate does first, once per schema
        validator = cls(schema)
        _validators[id(schema)] = (schema, validator)
        return validator


def install() -> bool:
    """Make the SDK's request check reuse one validator per schema; returns whether it is in place.

    Idempotent. Returns False, leaving the SDK as it is, when its ``DataModel.validate`` or its
    validator class is not where this expects them (another SDK or ``jsonschema`` version).
    """
    global _installed
    if _installed:
        return True
    try:
        import jsonschema
        from clearml.backend_api.session import datamodel
    except ImportError as err:
        log.debug("SDK request check left as it is: %s", err)
        return False
    cls = getattr(datamodel, "_CustomValidator", None)
    model = getattr(datamodel, "DataModel", None)
    if cls is None or model is None or not callable(getattr(model, "validate", None)):
        log.debug("SDK request check left as it is: clearml's datamodel has no DataModel.validate/_CustomValidator")
        return False
    best_match = jsonschema.exceptions.best_match

    def validate(self: Any, schema: dict[str, Any] | None = None) -> None:
        validator = _validator(cls, schema or self._schema)
        error = best_match(validator.iter_errors(self.to_dict()))
        if error is not None:
            raise error

    validate.__doc__ = model.validate.__doc__
    model.validate = validate
    _installed = True
    return True


__all__ = ["install"]
