"""Exports of results: CSV of candidates, PDF vetting reports, share links.

Modules: ``model`` (the plain-data `CandidateReport`), ``curves`` (detrended light curve,
periodogram, folded and binned views: the curves both the PDF and the web charts draw),
``tables`` (number formats, diagnostics rows, mission time axes), ``figures`` (the matplotlib
pages of the PDF), ``pdf``, ``csv_export``, ``export`` (the rows of a candidates export),
``lightcurve_files`` (where a candidate's light curve is), ``share`` (signed, expiring,
revocable tokens) and ``service`` (building reports from the database).
"""
