"""The web console (``/console``): server-rendered pages for supervisors and
community staff over the same commands, views and visibility rules as the API."""

from api.console.router import router

__all__ = ["router"]
