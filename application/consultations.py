"""Commands on consultations (协商议事). Not yet built: issue 4."""

from __future__ import annotations

from application.base import LinliBase


class ConsultationCommands(LinliBase):
    pass
