"""``hpo.analysis`` exports exactly what is public."""

from __future__ import annotations

import hpo.analysis


def test_exports_are_what_is_public() -> None:
    assert sorted(hpo.analysis.__all__) == sorted(n for n in vars(hpo.analysis) if not n.startswith("_"))
