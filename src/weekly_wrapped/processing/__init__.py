"""Processing: PlayEvents in, warehouse rows out (DESIGN §5)."""
