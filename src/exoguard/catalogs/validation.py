"""Validation report of a catalog table: what was wrong, where, and what was done about it.

Nothing is dropped silently: a bad value becomes NaN *and* an issue naming the row, the
column and the original value; a skipped row (a K2 non-default parameter set) is counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]

#: At most this many issues of one code are kept verbatim; the rest are only counted.
MAX_ISSUES_PER_CODE = 200


@dataclass(frozen=True)
class Issue:
    """One validation finding.

    Attributes
    ----------
    severity : {"error", "warning"}
    code : str
        Machine-readable kind, e.g. ``"bad_value"``, ``"duplicate_id"``, ``"missing_column"``.
    message : str
        Human-readable sentence.
    row : int or None
        1-based data row of the input table (the first row after the header is 1).
    column : str or None
        Column of the *input* table.
    value : str or None
        The offending value, verbatim.
    """

    severity: Severity
    code: str
    message: str
    row: int | None = None
    column: str | None = None
    value: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "row": self.row,
            "column": self.column,
            "value": self.value,
        }


@dataclass
class ValidationReport:
    """Collected issues of one table, plus row counts.

    ``ok`` is true when there is no error (warnings allowed).
    """

    kind: str = ""
    source: str = ""
    n_rows_read: int = 0
    n_rows_kept: int = 0
    n_rows_skipped: int = 0
    issues: list[Issue] = field(default_factory=list)
    #: Issues over ``MAX_ISSUES_PER_CODE`` per code are only counted here.
    n_truncated: dict[str, int] = field(default_factory=dict)

    def add(
        self,
        severity: Severity,
        code: str,
        message: str,
        *,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
    ) -> None:
        """Record one issue (keeps at most ``MAX_ISSUES_PER_CODE`` of each code verbatim)."""
        n_same = sum(1 for i in self.issues if i.code == code)
        if n_same >= MAX_ISSUES_PER_CODE:
            self.n_truncated[code] = self.n_truncated.get(code, 0) + 1
            return
        self.issues.append(
            Issue(
                severity=severity,
                code=code,
                message=message,
                row=row,
                column=column,
                value=None if value is None else str(value),
            )
        )

    @property
    def errors(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[Issue]:
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors and not any(
            code for code in self.n_truncated if self._severity_of(code) == "error"
        )

    def _severity_of(self, code: str) -> Severity | None:
        for issue in self.issues:
            if issue.code == code:
                return issue.severity
        return None

    def summary(self) -> str:
        """One line: counts of rows, errors and warnings."""
        n_err = len(self.errors) + sum(
            n for c, n in self.n_truncated.items() if self._severity_of(c) == "error"
        )
        n_warn = len(self.warnings) + sum(
            n for c, n in self.n_truncated.items() if self._severity_of(c) == "warning"
        )
        return (
            f"{self.source or self.kind}: {self.n_rows_kept} rows kept of {self.n_rows_read} read "
            f"({self.n_rows_skipped} skipped), {n_err} errors, {n_warn} warnings"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "source": self.source,
            "ok": self.ok,
            "n_rows_read": self.n_rows_read,
            "n_rows_kept": self.n_rows_kept,
            "n_rows_skipped": self.n_rows_skipped,
            "n_errors": len(self.errors),
            "n_warnings": len(self.warnings),
            "n_truncated": dict(self.n_truncated),
            "errors": [i.to_dict() for i in self.errors],
            "warnings": [i.to_dict() for i in self.warnings],
        }
