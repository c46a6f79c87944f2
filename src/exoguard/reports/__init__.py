"""Exports of results: CSV of candidates, PDF vetting reports, share links.

Modules: ``model`` (the plain-data `CandidateReport`), ``csv_export``, ``curves`` (detrended
light curve, periodogram, folded views), ``tables`` and ``figures`` (the one-page report,
matplotlib), ``pdf``, ``share`` (signed, expiring, revocable tokens) and ``service``
(building reports and export rows from the database).
"""
