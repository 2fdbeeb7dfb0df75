"""A page of an origin allowed with --allow-origin (JupyterLab's, for the panel) may call
`kalec serve` from the browser: its preflight is answered, its answers carry CORS headers;
any other origin is refused."""

from __future__ import annotations

from pathlib import Path

from kalec.serve.app import ServerConfig, create_app

LAB = "http://localhost:8888"


def client(tmp_path: Path):
    config = ServerConfig(token="t0k", allowed_origins=(LAB,), folder=tmp_path)
    return create_app(config).test_client()


def test_an_allowed_origin_gets_its_preflight_and_cors_headers(tmp_path: Path) -> None:
    web = client(tmp_path)
    base = {"Host": "127.0.0.1:5000", "Origin": LAB}
    preflight = web.options("/api/v1/check", headers=base)
    assert preflight.status_code == 204
    assert preflight.headers["Access-Control-Allow-Origin"] == LAB
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    answer = web.get("/api/v1/version", headers={**base, "Authorization": "token t0k"})
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == LAB
    no_token = web.get("/api/v1/version", headers=base)
    assert no_token.status_code == 401  # CORS lets the page read the answer, not skip the token


def test_another_origin_is_refused_without_cors_headers(tmp_path: Path) -> None:
    web = client(tmp_path)
    headers = {"Host": "127.0.0.1:5000", "Origin": "http://evil.example"}
    for answer in (
        web.options("/api/v1/check", headers=headers),
        web.get("/api/v1/version", headers={**headers, "Authorization": "token t0k"}),
    ):
        assert answer.status_code == 403
        assert "Access-Control-Allow-Origin" not in answer.headers
