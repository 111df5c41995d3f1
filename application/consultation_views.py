"""How consultations appear on the read side (registered case type and summaries)."""
