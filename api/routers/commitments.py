"""Service commitments (服务清单). Not yet built: issue 3."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["commitments"])
