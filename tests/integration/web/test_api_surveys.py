"""The survey routes answer with their declared response models, byte for byte what the
survey service returns."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _api_support import Api, api_world  # noqa: E402

from exoguard.survey.control import survey_rows, survey_view  # noqa: E402
from exoguard.survey.inputs import StarFiles  # noqa: E402
from exoguard.survey.service import create_survey  # noqa: E402

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def api(postgres_base_url: str | None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with api_world(
        postgres_base_url, tmp_path_factory.mktemp("api_surveys"), with_model=False
    ) as world:
        yield world


def _rendered(content: Any) -> bytes:
    """What FastAPI's JSONResponse writes for `content`."""
    return json.dumps(
        content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def test_survey_routes_return_the_service_views_unchanged(api: Api, tmp_path: Path) -> None:
    stars = [
        StarFiles(target=f"TIC {i}", mission="tess", files=(f"star{i}_lc.fits",)) for i in (1, 2, 3)
    ]
    survey_id = create_survey(api.factory, source=tmp_path, name="typed", chunk_size=2, stars=stars)
    with api.client("researcher") as client:
        one = client.get(f"/api/surveys/{survey_id}")
        listed = client.get("/api/surveys")
    assert one.status_code == 200 and listed.status_code == 200
    # no star has started: nothing in the views depends on the clock
    assert one.content == _rendered(survey_view(api.factory, survey_id))
    assert listed.content == _rendered({"surveys": survey_rows(api.factory)})
    view = one.json()
    assert (view["n_stars"], view["pending"], view["fraction"]) == (3, 3, 0.0)
    assert view["stage_s_per_star"]["n_stars"] == 0.0 and view["failures"] == []
