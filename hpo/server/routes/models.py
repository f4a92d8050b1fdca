"""``models.*``: model documents registered by ``OutputModel`` and found by ``Model.query_models``."""

from __future__ import annotations

from hpo.server._router import Router

router = Router()
