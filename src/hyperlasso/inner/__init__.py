"""Layer 5: inner problems (datafits, penalties, models) and their solvers."""
