"""Output: the run directory (atomic writes) and the tear sheet (frames, figures, HTML/PDF assembly)."""
