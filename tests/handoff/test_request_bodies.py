"""REST bodies read strictly: a tiny app on one ``StrictJsonRoute`` router."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel

from handoff.request_bodies import StrictJsonRoute


class Body(BaseModel):
    name: str
    amount: float = 0.0


def strict_app() -> FastAPI:
    router = APIRouter(route_class=StrictJsonRoute)

    @router.post("/echo")
    async def echo(body: Body) -> Body:
        return body

    app = FastAPI()
    app.include_router(router)
    return app


HOSTILE_BODIES = {  # the raw body, and what the 422 says
    "lone-surrogate": ('{"name": "ana\\ud800"}', "lone surrogate (\\ud800)"),
    "surrogate-in-a-key": ('{"name": "ana", "\\udfff": 1}', "lone surrogate (\\udfff)"),
    "nan": ('{"name": "ana", "amount": NaN}', "NaN is not a JSON number"),
    "nan-in-a-string-field": ('{"name": NaN}', "NaN is not a JSON number"),
    "infinity": ('{"name": "ana", "amount": Infinity}', "Infinity is not a JSON number"),
    "minus-infinity": ('{"name": "ana", "amount": -Infinity}', "-Infinity is not a JSON number"),
    "float-overflow": ('{"name": "ana", "amount": 1e400}', "1e400 is out of range"),
    "huge-int": ('{"name": "ana", "amount": ' + "1" * 4_301 + "}", "4301 digits"),
    "deep-nesting": ("[" * 990 + "]" * 990, "nested deeper than 8 levels"),
    "not-utf8": (b'{"name": "\xed\xa0\x80"}', "not UTF-8"),
}


@pytest.mark.parametrize(("body", "says"), HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_a_body_the_service_cannot_keep_is_a_422_saying_what_to_send(
    body: str | bytes, says: str
) -> None:
    with TestClient(strict_app(), raise_server_exceptions=False) as client:
        response = client.post("/echo", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid" and error["loc"] == ["body"]
    assert says in error["msg"] and "send" in error["msg"]


def test_a_well_formed_body_is_read_as_before() -> None:
    with TestClient(strict_app()) as client:
        response = client.post("/echo", json={"name": "ana \U0001f600", "amount": 1.5})
        not_json = client.post(
            "/echo", content="{nope", headers={"content-type": "application/json"}
        )
    assert response.status_code == 200
    assert response.json() == {"name": "ana \U0001f600", "amount": 1.5}
    assert not_json.status_code == 422
    assert not_json.json()["detail"][0]["type"] == "json_invalid"
