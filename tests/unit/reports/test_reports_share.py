"""Share-link tokens: signature, tampering, wrong key, expiry carried in the token."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from exoguard.errors import NotFoundError
from exoguard.reports.share import hash_token, sign_token, verify_token

KEY = "test-secret-key-for-share-links-0123456789"


def _token(**overrides: object) -> str:
    args: dict[str, object] = {
        "target_kind": "candidate",
        "target_id": "42",
        "expires_at": datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC),
        "secret_key": KEY,
    }
    args.update(overrides)
    return sign_token(**args)  # type: ignore[arg-type]


def test_round_trip() -> None:
    token = _token()
    payload = verify_token(token, secret_key=KEY)
    assert payload.target_kind == "candidate"
    assert payload.target_id == "42"
    assert payload.expires_at == datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert len(token) < 200 and token.count(".") == 1


def test_tokens_are_unique_and_only_their_hash_is_64_hex() -> None:
    a, b = _token(), _token()
    assert a != b  # random nonce
    assert len(hash_token(a)) == 64 and hash_token(a) != hash_token(b)
    int(hash_token(a), 16)


def test_wrong_key_is_not_found() -> None:
    with pytest.raises(NotFoundError):
        verify_token(_token(), secret_key=KEY + "x")


def test_tampered_payload_is_not_found() -> None:
    token = _token()
    payload_b64, signature = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload_b64 + "=" * (-len(payload_b64) % 4)))
    body["i"] = "43"  # point the link at another candidate
    forged = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    with pytest.raises(NotFoundError):
        verify_token(f"{forged}.{signature}", secret_key=KEY)


@pytest.mark.parametrize("mutation", ["flip_last", "drop_dot", "empty", "long", "non_ascii"])
def test_mangled_tokens_are_not_found(mutation: str) -> None:
    token = _token()
    bad = {
        "flip_last": token[:-1] + ("A" if token[-1] != "A" else "B"),
        "drop_dot": token.replace(".", ""),
        "empty": "",
        "long": token + "A" * 600,
        "non_ascii": token[:-1] + "é",
    }[mutation]
    with pytest.raises(NotFoundError):
        verify_token(bad, secret_key=KEY)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="target_kind must be one of"):
        _token(target_kind="dataset")
    with pytest.raises(ValueError, match="timezone-aware"):
        _token(expires_at=datetime(2030, 1, 1) + timedelta(0))
