"""Reader registry and the public entry point ``read_lightcurve``.

One module per format registers a ``FitsReader`` or a ``TextReader`` (``identify`` +
``read``) here, in the style of lightkurve's ``io/``. The format is found from the
content: the FITS magic bytes and header keywords (TELESCOP, MISSION, ORIGIN, CREATOR,
EXTNAME, columns), JSON by its first character; other text goes to the first text reader
that claims its header line (e.g. DAVE K2 ``.dat`` files), CSV otherwise; never from the
file name.

Readers return a *raw* ``LightCurve`` (times in BJD_TDB, quality flags applied, flux
in the file's units); ``read_lightcurve`` then cleans each file, normalises it on its
own out-of-transit level, stitches the files and clips upward outliers.
"""

from __future__ import annotations

import codecs
import gzip
import importlib
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from exoguard.core.cleaning import (
    DEFAULT_UPPER_SIGMA,
    MIN_POINTS,
    clip_upward_outliers,
    drop_nonfinite,
    normalise_segments,
    require_points,
    resolve_quality_bitmask,
    sort_and_deduplicate,
    stitch,
)
from exoguard.core.lightcurve import MISSIONS, LightCurve
from exoguard.errors import ExoguardError, FormatError, NotFoundError, ValidationError
from exoguard.limits import DEFAULT_LIMITS, InputLimits, read_capped

if TYPE_CHECKING:
    from astropy.io import fits

logger = logging.getLogger(__name__)

_BUILTIN_MODULES = (
    "exoguard.io.qlp",
    "exoguard.io.k2sff",
    "exoguard.io.lightkurve_fits",
    "exoguard.io.ames",
    "exoguard.io.generic_fits",
    "exoguard.io.dave_k2",
)
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class ReadOptions:
    """What the caller asked for; passed to every reader."""

    source_name: str
    flux_column: str | None = None
    quality_bitmask: str | int = "default"
    time_system: str | None = None
    mission: str | None = None
    target_id: str | None = None
    limits: InputLimits = DEFAULT_LIMITS


@dataclass(frozen=True)
class FitsReader:
    """A FITS light-curve format: ``identify(hdul)`` says yes/no, ``read`` reads it."""

    name: str
    identify: Callable[[fits.HDUList], bool]
    read: Callable[[fits.HDUList, ReadOptions], LightCurve]
    priority: int = 100  # lower runs first


@dataclass(frozen=True)
class TextReader:
    """A text light-curve format: ``identify(header)`` says yes/no from the first line that
    is neither blank nor a ``#`` comment; ``read(path, opts)`` reads the file."""

    name: str
    identify: Callable[[str], bool]
    read: Callable[[Path, ReadOptions], LightCurve]
    priority: int = 100  # lower runs first


_FITS_READERS: dict[str, FitsReader] = {}
_TEXT_READERS: dict[str, TextReader] = {}
_loaded = False


def register_fits_reader(reader: FitsReader) -> FitsReader:
    """Add (or replace) a FITS reader; readers are tried by ascending ``priority``."""
    _FITS_READERS[reader.name] = reader
    return reader


def fits_readers() -> list[FitsReader]:
    """The registered FITS readers in the order they are tried."""
    _load_builtin_readers()
    return sorted(_FITS_READERS.values(), key=lambda r: (r.priority, r.name))


def register_text_reader(reader: TextReader) -> TextReader:
    """Add (or replace) a text reader; tried by ascending ``priority`` before the CSV reader."""
    _TEXT_READERS[reader.name] = reader
    return reader


def text_readers() -> list[TextReader]:
    """The registered text readers in the order they are tried."""
    _load_builtin_readers()
    return sorted(_TEXT_READERS.values(), key=lambda r: (r.priority, r.name))


def _header_line(path: Path) -> str:
    """The first line of a text file that is neither blank nor a ``#`` comment ("" if none)."""
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":
        with gzip.open(path, "rb") as gz:
            head = gz.read(_SNIFF_BYTES)
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    for line in text.splitlines():
        s = line.strip()
        if s and not s.startswith("#"):
            return s
    return ""


def _load_builtin_readers() -> None:
    global _loaded
    if not _loaded:
        for mod in _BUILTIN_MODULES:
            importlib.import_module(mod)
        _loaded = True


# ---------------------------------------------------------------------- sniffing
def sniff_format(path: Path) -> str:
    """``'fits'``, ``'json'`` or ``'csv'`` from the first bytes of the file.

    Raises
    ------
    FormatError
        Empty file, binary content that is not FITS, or text that is not UTF-8.
    """
    if path.stat().st_size == 0:
        raise FormatError(f"{path.name}: the file is empty")
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as gz:
                head = gz.read(_SNIFF_BYTES)
        except (OSError, EOFError) as exc:
            raise FormatError(f"{path.name}: corrupt gzip file ({exc})") from exc
    if head.startswith(b"SIMPLE  ="):
        return "fits"
    if not head.strip():
        raise FormatError(f"{path.name}: the file is empty (only blanks)")
    controls = sum(b < 9 or 13 < b < 32 for b in head)
    if b"\x00" in head or controls > 0.01 * len(head):
        raise FormatError(
            f"{path.name}: binary content that is not FITS; supported formats: "
            "FITS light curves (Kepler, K2, TESS and MAST HLSPs), CSV, JSON"
        )
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        raise FormatError(
            f"{path.name}: text is not UTF-8 (byte {exc.start}: {exc.reason}); "
            "save the file as UTF-8"
        ) from exc
    first = text.lstrip("\ufeff").lstrip()[:1]
    return "json" if first in ("{", "[") else "csv"


def read_utf8_bytes(path: Path, *, limits: InputLimits = DEFAULT_LIMITS) -> bytes:
    """The whole file (gzip allowed) as bytes checked to be UTF-8, without a byte-order mark.

    Decompression streams and stops at ``limits.max_bytes``; more than ``limits.max_rows``
    lines is refused. The UTF-8 check decodes chunk by chunk, so it never holds a decoded copy.

    Raises
    ------
    TooLargeError
        Past a limit (the message names it and its setting).
    FormatError
        Corrupt gzip data or text that is not UTF-8.
    """
    raw = read_capped(path, limits=limits)
    limits.check_rows(raw.count(b"\n"), name=path.name, what="lines")
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(raw)
    step = 1 << 20
    try:
        for start in range(0, len(raw), step):
            decoder.decode(view[start : start + step], final=False)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        # the offset is within the chunk that failed; report the file offset
        offset = start + exc.start
        raise FormatError(
            f"{path.name}: text is not UTF-8 (byte {offset}: {exc.reason}); save the file as UTF-8"
        ) from exc
    finally:
        view.release()
    return raw[3:] if raw.startswith(codecs.BOM_UTF8) else raw


def read_text(path: Path, *, limits: InputLimits = DEFAULT_LIMITS) -> str:
    """The whole file as UTF-8 text (gzip allowed), within `limits` (see `read_utf8_bytes`)."""
    return read_utf8_bytes(path, limits=limits).decode("utf-8")


# ---------------------------------------------------------------------- reading
def _is_lightkurve_object(obj: Any) -> bool:
    return type(obj).__module__.split(".")[0] == "lightkurve"


def read_raw(source: Any, opts: ReadOptions) -> LightCurve:
    """Read one file or object into a raw ``LightCurve`` (quality applied, not normalised)."""
    if isinstance(source, LightCurve):
        return source
    if _is_lightkurve_object(source):
        from exoguard.io.lightkurve_object import read_lightkurve_object

        return read_lightkurve_object(source, opts)
    path = Path(os.fspath(source))
    if not path.exists():
        raise NotFoundError(f"no such file: {path.name}")
    if path.is_dir():
        raise FormatError(f"{path.name} is a directory; give light-curve files")
    kind = sniff_format(path)
    if kind == "json":
        from exoguard.io.json_table import read_json_lightcurve

        return read_json_lightcurve(path, opts)
    if kind == "csv":
        header = _header_line(path)
        for text_reader in text_readers():
            if text_reader.identify(header):
                logger.debug("%s: read as %s", path.name, text_reader.name)
                return text_reader.read(path, opts)
        from exoguard.io.csv_table import read_csv_lightcurve

        return read_csv_lightcurve(path, opts)
    from exoguard.io.fits_common import open_fits

    with open_fits(path, limits=opts.limits) as hdul:
        for reader in fits_readers():
            try:
                ok = reader.identify(hdul)
            except (KeyError, IndexError, AttributeError, TypeError, ValueError):
                ok = False
            if ok:
                logger.debug("%s: read as %s", path.name, reader.name)
                try:
                    return reader.read(hdul, opts)
                except ExoguardError:
                    raise
                except Exception as exc:  # corrupt table data (astropy raises many types)
                    raise FormatError(
                        f"{path.name}: cannot read the {reader.name} table ({exc})"
                    ) from exc
    raise FormatError(
        f"{path.name}: FITS file without a light-curve table; supported: "
        + ", ".join(r.name for r in fits_readers())
    )


def _prepare(raw: LightCurve) -> LightCurve:
    """Per-file cleaning: finite values, time order, own out-of-transit level."""
    where = ", ".join(raw.sources) or "the input"
    if raw.n_points == 0:
        raise ValidationError(f"{where}: no cadence left after the quality mask")
    if not np.isfinite(raw.flux).any():
        raise ValidationError(
            f"{where}: the flux column {raw.flux_column!r} has no finite value "
            f"({raw.n_points} rows)"
        )
    lc = sort_and_deduplicate(drop_nonfinite(raw))
    if lc.n_points == 0:
        raise ValidationError(f"{where}: no point has both a finite time and a finite flux")
    return normalise_segments(lc)


def read_lightcurve(
    source: Any,
    *,
    flux_column: str | None = None,
    quality_bitmask: str | int = "default",
    time_system: str | None = None,
    mission: str | None = None,
    target_id: str | None = None,
    upper_sigma: float = DEFAULT_UPPER_SIGMA,
    min_points: int = MIN_POINTS,
    limits: InputLimits | None = None,
) -> LightCurve:
    """Read, clean and stitch light curves of one target.

    Parameters
    ----------
    source : path, sequence of paths, ``lightkurve.LightCurve`` or ``LightCurveCollection``
        FITS (Kepler/K2 LLC/SLC, TESS SPOC and data-alert files, K2SFF, QLP,
        lightkurve exports, other tables with a time and flux column), DAVE K2
        ``.dat`` text files, CSV or JSON files (gzip allowed). Several files are
        stitched (same target only).
    flux_column : str, optional
        Column to read (e.g. ``"SAP_FLUX"``); default per format (``PDCSAP_FLUX`` for
        the mission pipelines, ``FCOR`` for K2SFF, ``Corrflux`` for DAVE K2 text,
        ``SAP_FLUX`` for QLP, the first alias found in tables).
    quality_bitmask : {'default', 'hard', 'hardest', 'none'} or int
        lightkurve's quality bitmasks (Kepler/K2 or TESS definitions).
    time_system : str, optional
        Time system of a table's time column (``bjd``, ``bkjd``, ``btjd``, ``mjd``,
        ``jd``, ``relative``); inferred when not given (see ``exoguard.io.columns``).
    mission, target_id : str, optional
        Override what the file says (or give what a table does not say).
    upper_sigma : float
        Upward outlier threshold in robust sigma (downward points are never clipped).
    min_points : int
        Fewer usable points raise ``ValidationError``.
    limits : InputLimits, optional
        Caps on each file's decompressed bytes and rows (``exoguard.limits.DEFAULT_LIMITS``
        when not given; the web app passes its upload settings).

    Returns
    -------
    LightCurve
        Cleaned, normalised (~1), time-sorted, BJD_TDB.

    Raises
    ------
    FormatError
        Unreadable content (corrupt/truncated FITS, empty, binary, non-UTF-8, unknown
        columns); the message names the columns found and the ones allowed.
    ValidationError
        Readable but unusable (all-NaN flux, too few points, several targets).
    TooLargeError
        A file decompresses past ``limits.max_bytes`` or holds more than ``limits.max_rows``
        rows (gzip is read in bounded chunks and refused as soon as it passes).
    NotFoundError
        A path that does not exist.

    Examples
    --------
    >>> from exoguard.config import get_settings
    >>> from exoguard.io import read_lightcurve
    >>> d = get_settings().lightcurves_dir / "tess"
    >>> lc = read_lightcurve(d / "tic55525572_lc.fits")  # doctest: +SKIP
    >>> lc.mission, lc.target_id  # doctest: +SKIP
    ('tess', 'TIC 55525572')
    """
    if mission is not None and mission not in MISSIONS:
        raise ValueError(f"mission {mission!r} is not allowed; use one of {MISSIONS}")
    resolve_quality_bitmask(quality_bitmask, mission="kepler")  # fail early on a bad name
    prepared = []
    for item in _source_items(source):
        name = (
            Path(os.fspath(item)).name
            if isinstance(item, str | os.PathLike)
            else type(item).__name__
        )
        opts = ReadOptions(
            source_name=name,
            flux_column=flux_column,
            quality_bitmask=quality_bitmask,
            time_system=time_system,
            mission=mission,
            target_id=target_id,
            limits=limits or DEFAULT_LIMITS,
        )
        prepared.append(_prepare(read_raw(item, opts)))
    lc = stitch(prepared) if len(prepared) > 1 else prepared[0]
    lc = clip_upward_outliers(lc, upper_sigma=upper_sigma)
    return require_points(lc, min_points=min_points)


def _source_items(source: Any) -> list[Any]:
    """The light curves to read: one path or object, or each of a sequence or collection."""
    items: Sequence[Any]
    if (
        isinstance(source, str | os.PathLike | LightCurve)
        or _is_lightkurve_object(source)
        and (type(source).__name__ != "LightCurveCollection")
    ):
        items = [source]
    elif isinstance(source, Sequence) or _is_lightkurve_object(source):
        items = list(source)
    else:
        raise ValueError(
            "source must be a path, a sequence of paths, a lightkurve LightCurve or "
            f"LightCurveCollection, or an exoguard LightCurve; got {type(source).__name__}"
        )
    if not items:
        raise ValidationError("no light curve given (empty list)")
    return list(items)
