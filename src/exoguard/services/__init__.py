"""Application services: one module per capability, called by the web routes, the CLI, the
job tasks and the surveys alike. They parse nothing and know no HTTP.

Each service takes a SQLAlchemy session (and settings where needed), applies the domain rules
and raises `ExoguardError` subclasses, which the app maps to HTTP status codes in one place.
"""
