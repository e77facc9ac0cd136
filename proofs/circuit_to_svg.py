"""Circuit diagrams as SVG: the drawing lives in :mod:`symbolic.circuit_to_svg` (a circuit draws
itself in a notebook); its names are importable from here too."""

from symbolic.circuit_to_svg import (LEGEND, MAX_FORMULA_CHARS, MAX_LABELLED_EDGES, MIN_SCALE,  # noqa: F401
                                     active_when, affine_text, circuit_svg, columns, fitted, node_formula,
                                     short_number, shorten_numbers)
