"""ODK Collect's requests, as Collect sends them, to a real ``wardsync serve`` (gunicorn): the
form list and the forms, then for each filled form a HEAD on the submission URL and the POST
of a chunked multipart body on the same keep-alive connection. Also: a chunked body over
10 MiB, a revoked device, and the access log, which shows every path without the key."""

from __future__ import annotations

import hashlib
import http.client
import socket
import uuid

import defusedxml.ElementTree as defused
import pytest
import requests
from collect_kit import BOUNDARY, CONTENT_TYPE, FORMS_NS, OR_NS, make_device, multipart
from kit.live import wait_for
from openrosa.openrosa_kit import fill
from sqlalchemy import func, select

from sync.models import Submission

MIB = 1024 * 1024
HOUSEHOLD = "4b7c0a7e-2b8f-4f5e-8c1d-6a9e3f2d1b00"
# What Collect's HTTP client (OkHttp) sends with every OpenRosa request.
COLLECT_HEADERS = {
    "X-OpenRosa-Version": "1.0",
    "User-Agent": "org.odk.collect.android/v2024.3.0 okhttp/4.12.0",
    "Accept-Encoding": "gzip",
}


@pytest.fixture
def collect(client, world, live_server):
    device = make_device(client, world)
    device.server_url = live_server.base + device.base
    return device


def _chunks(body: bytes, size: int = 8192):
    for start in range(0, len(body), size):
        yield body[start : start + size]


def _send_as_collect(live_server, collect, xml: bytes, attachments=None):
    """HEAD, then the chunked multipart POST, on one connection: (head, post) answers."""
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=60)
    try:
        conn.request("HEAD", collect.base + "/submission", headers=COLLECT_HEADERS)
        head = conn.getresponse()
        head.read()
        body = multipart(xml, attachments)
        conn.request(
            "POST",
            collect.base + "/submission",
            body=_chunks(body),
            headers={**COLLECT_HEADERS, "Content-Type": CONTENT_TYPE},
            encode_chunked=True,
        )
        post = conn.getresponse()
        return head, post, post.read()
    finally:
        conn.close()


def _message(body: bytes) -> str:
    root = defused.fromstring(body)
    return "".join(root.find(f"{OR_NS}message").itertext())


def test_collect_fetches_its_forms_and_sends_one(collect, live_server, session, tmp_path):
    listed = requests.get(collect.server_url + "/formList", headers=COLLECT_HEADERS, timeout=30)
    assert listed.status_code == 200
    assert listed.headers["X-OpenRosa-Version"] == "1.0"
    assert listed.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert "Date" in listed.headers
    forms = {x.find(f"{FORMS_NS}formID").text: x for x in defused.fromstring(listed.content)}
    assert sorted(forms) == ["activation", "gift", "household_help"]
    url = forms["gift"].find(f"{FORMS_NS}downloadUrl").text
    assert url == collect.server_url + "/forms/gift"
    xform = requests.get(url, headers=COLLECT_HEADERS, timeout=30)
    assert xform.status_code == 200 and xform.headers["X-OpenRosa-Version"] == "1.0"
    assert (
        forms["gift"].find(f"{FORMS_NS}hash").text
        == "md5:" + hashlib.md5(xform.content, usedforsecurity=False).hexdigest()
    )
    # The form's media, as Collect fetches them: the manifest, then each file it lists.
    manifest = requests.get(
        forms["gift"].find(f"{FORMS_NS}manifestUrl").text, headers=COLLECT_HEADERS, timeout=30
    )
    assert manifest.status_code == 200 and manifest.headers["X-OpenRosa-Version"] == "1.0"
    ns = "{http://openrosa.org/xforms/xformsManifest}"
    [media] = defused.fromstring(manifest.content)
    assert media.find(f"{ns}filename").text == "households.csv"
    csv_file = requests.get(
        media.find(f"{ns}downloadUrl").text, headers=COLLECT_HEADERS, timeout=30
    )
    assert csv_file.status_code == 200 and csv_file.content.startswith(b"name,label,")
    assert (
        media.find(f"{ns}hash").text
        == "md5:" + hashlib.md5(csv_file.content, usedforsecurity=False).hexdigest()
    )
    sid = str(uuid.uuid4())
    xml = fill(
        xform.content,
        {
            "campaign": "camp",
            "org_unit": "W1",
            "household_id": HOUSEHOLD,
            "gift_kind": "rice",
            "round": "2023-tet",
            "value_vnd": "250000",
        },
        instance_id=sid,
    )
    head, post, body = _send_as_collect(
        live_server, collect, xml, {"photo.jpg": b"\xff\xd8" + b"\x01" * 200_000}
    )
    assert head.status == 204
    assert head.getheader("X-OpenRosa-Accept-Content-Length") == str(10 * MIB)
    assert head.getheader("X-OpenRosa-Version") == "1.0"
    assert post.status == 201, body
    assert post.getheader("X-OpenRosa-Version") == "1.0"
    assert post.getheader("Content-Type") == "text/xml; charset=utf-8"
    assert _message(body) == "Máy chủ đã nhận."
    # Collect resends when it never heard the answer: 201 again, stored once.
    _, again, body = _send_as_collect(live_server, collect, xml)
    assert again.status == 201 and "trước đó" in _message(body)
    session.close()
    assert session.scalar(select(func.count()).where(Submission.id == sid)) == 1


def test_a_chunked_body_over_10_mib_is_413_in_xml(collect, live_server, session):
    body = multipart(b"<data/>", {"video.mp4": b"\x00" * (10 * MIB + 1)})
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=60)
    try:
        conn.request(
            "POST",
            collect.base + "/submission",
            body=_chunks(body, 64 * 1024),
            headers={**COLLECT_HEADERS, "Content-Type": CONTENT_TYPE},
            encode_chunked=True,
        )
        answer = conn.getresponse()
        data = answer.read()
    finally:
        conn.close()
    assert answer.status == 413
    assert answer.getheader("X-OpenRosa-Version") == "1.0"
    assert answer.getheader("Content-Type") == "text/xml; charset=utf-8"
    assert "10 MiB" in _message(data)
    session.close()
    assert session.scalar(select(func.count()).select_from(Submission)) == 0


def test_a_declared_body_over_10_mib_is_413_before_it_is_read(collect, live_server):
    head = (
        f"POST {collect.base}/submission HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: {CONTENT_TYPE}\r\nContent-Length: {10 * MIB + 1}\r\n"
        "X-OpenRosa-Version: 1.0\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=30) as sock:
        sock.sendall(head + f"--{BOUNDARY}\r\n".encode())
        sock.shutdown(socket.SHUT_WR)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    assert b" 413 " in status_line, data[:300]
    assert b"X-OpenRosa-Version: 1.0" in rest and b"<OpenRosaResponse" in rest


def test_a_revoked_device_is_refused_at_once(client, world, collect, live_server):
    assert requests.head(collect.server_url + "/submission", timeout=30).status_code == 204
    revoked = client.delete(
        f"/api/v1/devices/{collect.device_id}", headers=world.headers("lead-w1")
    )
    assert revoked.status_code == 204
    for method in ("HEAD", "POST"):
        answer = requests.request(method, collect.server_url + "/submission", timeout=30)
        assert answer.status_code == 401, method
        assert answer.headers["X-OpenRosa-Version"] == "1.0"
    listed = requests.get(collect.server_url + "/formList", timeout=30)
    assert listed.status_code == 401 and "thu hồi" in _message(listed.content)


def test_the_access_log_never_shows_the_key(collect, live_server, tmp_path):
    paths = [
        collect.base + "/formList",
        collect.base + "/forms/gift",
        collect.base + "/forms/nope",
        collect.base.replace("/openrosa/", "/%6Fpenrosa/") + "/formList",  # routes the same
        collect.base.replace("/key/", "/key%2F") + "/formList",
    ]
    for path in paths:
        requests.get(live_server.base + path, headers={"Referer": collect.server_url}, timeout=30)
    requests.head(collect.server_url + "/submission", timeout=30)
    log = live_server.log_path
    wait_for(  # one access line per request
        lambda: (
            sum("/openrosa/key/[redacted]/" in line for line in log.read_text().splitlines())
            >= len(paths) + 1
        ),
        what="the access log lines",
    )
    text = log.read_text()
    assert collect.key not in text
    assert "/openrosa/key/[redacted]/formList" in text
    assert "/openrosa/key/[redacted]/submission" in text
