"""What the OpenRosa server tests share: an OpenRosa device made through the API, forms filled
as ODK Collect fills them (lib's ``fill``, from the XForm the server serves), multipart bodies
as Collect writes them, and the same forms as the JSON push's items.

Its own module name (not conftest), so tests import it by a name no other file shares.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import defusedxml.ElementTree as defused
from openrosa.openrosa_kit import fill

OR_NS = "{http://openrosa.org/http/response}"
FORMS_NS = "{http://openrosa.org/xforms/xformsList}"
BOUNDARY = "----wardsyncCollectBoundary7MA4YWxk"
START = "2023-07-29T09:10:00.000+07:00"


@dataclass
class CollectDevice:
    device_id: str
    server_url: str
    collect_settings: str

    @property
    def key(self) -> str:
        return self.base.rsplit("/", 1)[1]

    @property
    def base(self) -> str:
        """The server URL's path: ``/openrosa/key/<key>``."""
        return urlsplit(self.server_url).path


def make_device(client, world, lead="lead-w1", volunteer="vol-w1", units=("W1",), name="Collect"):
    answer = client.post(
        "/api/v1/devices/openrosa",
        json={"volunteer": volunteer, "org_units": list(units), "name": name},
        headers=world.headers(lead),
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    return CollectDevice(body["device_id"], body["server_url"], body["collect_settings"])


def multipart(xml: bytes, attachments: dict[str, bytes] | None = None) -> bytes:
    """A body as Collect writes it: the instance as ``xml_submission_file`` (a file part), then
    each attachment as a part named by its file name."""
    parts = [("xml_submission_file", "submission.xml", "text/xml", xml)]
    for name, data in (attachments or {}).items():
        parts.append((name, name, "image/jpeg", data))
    out = b""
    for field, filename, kind, data in parts:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
        ).encode()
        out += data + b"\r\n"
    return out + f"--{BOUNDARY}--\r\n".encode()


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def submit(client, device: CollectDevice, xml: bytes, headers=None, **attachments):
    return client.post(
        device.base + "/submission",
        data=multipart(xml, attachments),
        content_type=CONTENT_TYPE,
        headers={"X-OpenRosa-Version": "1.0", **(headers or {})},
    )


def xform(client, device: CollectDevice, form: str) -> bytes:
    answer = client.get(device.base + f"/forms/{form}", headers={"X-OpenRosa-Version": "1.0"})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.data


def instance(
    client,
    device: CollectDevice,
    form: str,
    answers: dict,
    *,
    instance_id: str | None = None,
    deprecated_id: str | None = None,
    end: str = "2023-07-29T09:15:00.000+07:00",
) -> bytes:
    """The instance Collect would send for ``form`` as this device downloaded it."""
    text = {k: None if v is None else str(v) for k, v in answers.items()}
    return fill(
        xform(client, device, form),
        text,
        instance_id=instance_id,
        deprecated_id=deprecated_id,
        start=START,
        end=end,
    )


def message(response) -> str:
    """The OpenRosaResponse's message (what Collect shows the volunteer)."""
    root = defused.fromstring(response.data)
    assert root.tag == f"{OR_NS}OpenRosaResponse", response.data[:200]
    return "".join(root.find(f"{OR_NS}message").itertext())


def nature(response) -> str | None:
    root = defused.fromstring(response.data)
    return root.find(f"{OR_NS}message").get("nature")


def json_item(
    form: str,
    answers: dict,
    *,
    sid: str,
    campaign="camp",
    org_unit="W1",
    recorded_at="2023-07-29T09:15:00+07:00",
) -> dict:
    """The same form as the phone app would push it."""
    return {
        "id": sid,
        "form": form,
        "form_version": 1,
        "campaign": campaign,
        "org_unit": org_unit,
        "recorded_at": recorded_at,
        "data": answers,
    }


def new_id() -> str:
    return str(uuid.uuid4())


def is_openrosa_xml(response) -> bool:
    return (
        response.headers.get("X-OpenRosa-Version") == "1.0"
        and response.content_type == "text/xml; charset=utf-8"
        and re.match(rb"<\?xml", response.data) is not None
    )
