"""Heuristic quality filters: URL, language, Gopher quality and repetition, C4, RefinedWeb, FineWeb.

Each unit is a module with a config dataclass (the published defaults), its stored signal columns, a
``score`` that measures a document and a ``decide`` that turns signals into a reason code. ``chain``
runs them in FineWeb's order.
"""
