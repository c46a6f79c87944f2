"""Plotly charts of the pages: plain JSON-ready dicts, no plotly import.

Every builder returns ``{"data": [...], "layout": {...}}`` that the browser hands to
``Plotly.newPlot`` as is. The static figures of the PDF report are drawn with matplotlib in
:mod:`exoguard.reports.figures`; the curves both draw (folding, binning, transit times, time
axes) are computed once, in :mod:`exoguard.reports.curves` and :mod:`exoguard.reports.tables`,
and the evaluation points in :mod:`exoguard.ml.curves`.

* :mod:`~exoguard.web.charts.base`        — colours, layout, JSON-safe arrays, y ranges.
* :mod:`~exoguard.web.charts.lightcurves` — light curve, periodogram, folded, odd/even and
  secondary-eclipse views.
* :mod:`~exoguard.web.charts.evaluation`  — confusion matrix, ROC, PR, calibration, histogram.
* :mod:`~exoguard.web.charts.explain`     — feature importance and SHAP charts.

Submodules are imported explicitly; this package imports nothing.
"""
