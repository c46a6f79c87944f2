"""The cross-match query built from one row: which host identifiers it carries."""

from __future__ import annotations

import pytest

from exoguard.catalogs.crossmatch import match_candidate
from exoguard.services.catalog_match import query_for_row


@pytest.mark.parametrize("placeholder", ["unknown", "UNKNOWN", " Unknown "])
def test_a_file_that_names_no_star_gives_no_host(placeholder: str) -> None:
    """A light curve read from a CSV without a header gets the readers' placeholder target;
    it is not a star name, so the no-match reason says no star was named."""
    query = query_for_row({"host_id": placeholder, "mission": "tess", "period_days": 6.27})
    assert query.host_ids == ()
    match = match_candidate(query, [])
    assert not match.matched
    assert "no host star identifier" in match.reason
    assert "UNKNOWN" not in match.reason


def test_real_hosts_are_kept_once_in_order() -> None:
    query = query_for_row(
        {"host_id": "KIC 10797460", "mission": "kepler", "period_days": 9.49},
        host_ids=["kplr010797460", "KIC 10797460", ""],
    )
    assert query.host_ids == ("KIC 10797460", "kplr010797460")
    assert query.period_days == pytest.approx(9.49)
