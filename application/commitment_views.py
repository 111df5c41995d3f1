"""How commitments appear on the read side (registered case type and summaries)."""
