"""Consultations (协商议事). Not yet built: issue 4."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["consultations"])
