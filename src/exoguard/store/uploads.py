"""Where an uploaded dataset's files are: one file, or a folder of files of one star."""

from __future__ import annotations

from pathlib import Path


def stored_files(root: Path, relative: str) -> list[Path]:
    """The files of a dataset stored at `relative` under `root` (empty when missing).

    A folder holds the files of a multi-file upload, named in upload order (``000``, ``001``,
    ...). A path that resolves outside `root` gives no file.
    """
    base = root.resolve()
    path = (base / relative).resolve()
    if base not in path.parents:
        return []
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file())
    return [path] if path.is_file() else []


__all__ = ["stored_files"]
