"""The web console at ``/console``: server-rendered pages over the same
application commands, view queries and visibility rules as the HTTP API.

Every page calls the API routers' own functions (``api.routers.*``): the
console is another way to read their answers, not a second set of rules. A
page therefore shows exactly what the signed-in token may see through the
API, and a command fails with the API's own status (and, in the console's
language, says what to do).

One module per group of pages, as the API's routers are split; what they
share (the request object, the session, templates, CSRF, running a command
and showing its error) is in ``api.console.common``:

- ``session``: sign-in, sign-out and the static files
- ``home``: the home page (each role's to-do counts), and the 404 page for any other address
- ``needs``: the needs list (keyword search), registering a need, the case page and its
  commands (a supervisor's supervision notice among them)
- ``disputes``: needs that went through a consultation
- ``offers``: co-building units' offers (服务项目), with the needs each served
- ``consultations``: the list of consultations, and a consultation
- ``commitments``: service lists
- ``figures``: the rates, per month and per party
- ``visits``: household-visit coverage
"""

from __future__ import annotations

from fastapi import APIRouter

from api.console import (
    commitments,
    consultations,
    disputes,
    figures,
    home,
    needs,
    offers,
    session,
    visits,
)

router = APIRouter(include_in_schema=False)
for pages in (session, home, needs, disputes, consultations, offers, commitments, figures, visits):
    router.include_router(pages.router)
router.include_router(home.fallback)  # last: an address no page answers

__all__ = ["router"]
