"""Matplotlib figures of the PDF report (object-oriented API, Agg/PDF canvases only).

`~exoguard.reports.figures.pages.report_page` draws one A4 page per candidate in the spirit of
the Kepler Data Validation one-page summary: the light curve before and after detrending, the
periodogram, the phase-folded global and local views, odd/even and secondary-eclipse views,
the table of diagnostics, the model verdict with its uncertainty, the top SHAP contributions
and the vetting votes. `~exoguard.reports.figures.pages.summary_pages` draws the table page(s)
of a multi-candidate report. The interactive charts of the web pages are Plotly JSON in
:mod:`exoguard.web.charts`; the curves both draw are computed in :mod:`exoguard.reports.curves`.

* :mod:`~exoguard.reports.figures.style`        — fonts, colours, ``report_style``, axis limits.
* :mod:`~exoguard.reports.figures.curve_panels` — light-curve, periodogram and folded panels
  (and the schematic panels drawn from catalog values when there is no light curve).
* :mod:`~exoguard.reports.figures.text_panels`  — diagnostics table, verdict, SHAP, votes.
* :mod:`~exoguard.reports.figures.pages`        — the candidate page and the summary pages.

No pyplot: figures are plain `matplotlib.figure.Figure` objects, safe to draw in threads.
Submodules are imported explicitly; this package imports nothing.
"""
