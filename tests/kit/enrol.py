"""A phone talking to the app through Flask's test client: enrolled, pushing and pulling.

Its own module (not conftest) so that tests import it by a name no other file shares.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Phone:
    """An enrolled device, talking to the app through the test client."""

    client: object
    device_id: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}

    def push(self, submissions: list[dict]):
        return self.client.post(
            "/api/v1/sync/push", json={"submissions": submissions}, headers=self.headers
        )

    def pull(self, cursor: str | None = None, limit: int | None = None):
        query = {k: v for k, v in (("cursor", cursor), ("limit", limit)) if v is not None}
        return self.client.get("/api/v1/sync/pull", query_string=query, headers=self.headers)


def enroll_phone(client, world, volunteer: str = "vol-w1", units=("W1",), lead="lead-w1") -> Phone:
    code = client.post(
        "/api/v1/enrollment-codes",
        json={"volunteer": volunteer, "org_units": list(units)},
        headers=world.headers(lead),
    )
    assert code.status_code == 201, code.get_json()
    enrolled = client.post(
        "/api/v1/devices/enroll", json={"code": code.get_json()["code"], "name": "phone"}
    )
    assert enrolled.status_code == 201, enrolled.get_json()
    body = enrolled.get_json()
    return Phone(client, body["device_id"], body["access_token"], body["refresh_token"])
