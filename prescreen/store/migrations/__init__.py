"""Numbered schema migrations: ``mNNNN_area.py`` modules, each with ``up(db)``, applied in order."""
