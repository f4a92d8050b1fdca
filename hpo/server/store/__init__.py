"""Persistence of the embedded server: knows documents and events, nothing of HTTP."""

from hpo.server.store._db import Database
from hpo.server.store._documents import Collection, Doc, Store
from hpo.server.store._event_reads import page_by_time, series_bodies, series_extents, series_points, values_at
from hpo.server.store._events import Event, Events

__all__ = [
    "Collection",
    "Database",
    "Doc",
    "Event",
    "Events",
    "Store",
    "page_by_time",
    "series_bodies",
    "series_extents",
    "series_points",
    "values_at",
]
