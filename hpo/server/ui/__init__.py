"""The web UI of the embedded server: ClearML's experiments, models and queues in the browser.

It shows ClearML objects only (the server knows nothing of HPO). Pages read the store and never
write; actions go through the API's route handlers. Pages live at the paths ClearML's web app uses,
which the SDK prints (``/projects/<project>/experiments/<task>/output/log``), beside the API's
``/[v2.x/]service.action`` and ``/files``; the UI's own assets, downloads and actions are under
``/ui/``.
"""

from hpo.server.ui._routes import routes
from hpo.server.ui._session import sign_in_link

__all__ = ["routes", "sign_in_link"]
