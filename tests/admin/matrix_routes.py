"""The authorization matrix's entries, one per route of ``app.url_map`` (method, rule).

An entry says how to call the route for a variant (usually the ward the call is about: one
in the caller's scope, one out of it), which callers may, and what a successful answer must
hold; anything else is a refusal that must write nothing. A new route needs an entry here,
or ``test_every_route_has_an_entry`` fails. A short one looks like::

    ("GET", "/api/v1/forms"): Route(may=public, check=lambda e, r, c, v: ...),
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from dataclasses import dataclass

from matrix_kit import ALL, ROLE, SCOPE, WARD_NAMES, WARDS, citizen, masked

SUBTREE = {"P": ALL, "C1": frozenset({"W1", "W2"}), "C2": frozenset({"W3"})} | {
    w: frozenset({w}) for w in WARDS
}
ROOTS = {"admin": ["P"], "hq": ["P"], "lead-c1": ["C1"], "lead-w1": ["W1"], "lead-w3": ["W3"]}
ROOTS["vol-w1"] = ["W1"]


@dataclass
class Route:
    may: Callable[[str, object], tuple[int, bool]]  # (caller, variant) -> (status, succeeds)
    call: Callable | None = None  # (estate, caller, variant) -> request; None: the rule
    check: Callable | None = None  # (estate, response, caller, variant), on success
    variants: tuple = (None,)
    writes: bool = False
    page: bool = False  # a web page: a session cookie, not a bearer token
    refusal_writes: bool = False  # a refused login may be counted (the login throttle)
    openrosa: bool = False  # ODK Collect's routes: errors are OpenRosaResponse XML


def allow(*roles, ok=200, scoped=False, out=403, anonymous=401, refused=403):
    """``roles`` may call; with ``scoped``, only for a variant within the caller's scope
    (``scoped="overlap"``: a variant whose subtree holds some of the caller's scope)."""

    def may(caller, variant):
        if ROLE[caller] is None:
            return anonymous, False
        if ROLE[caller] not in roles:
            return refused, False
        if scoped and variant is not None:
            wards = SUBTREE[variant]
            inside = wards & SCOPE[caller] if scoped == "overlap" else wards <= SCOPE[caller]
            if not inside:
                return out, False
        return ok, True

    return may


def public(caller, variant):
    return 200, True


def pages(*roles, ok=200, scoped=False, out=404):
    """A page: anyone without a session (phones and keys too) is sent to log in."""
    inner = allow(*roles, ok=ok, scoped=scoped, out=out, refused=403)

    def may(caller, variant):
        if ROLE[caller] in (None, "device", "key"):
            return 302, False
        return inner(caller, variant)

    return may


def in_scope(caller: str, variant=None) -> list[str]:
    wards = SCOPE[caller] & (SUBTREE[variant] if variant else ALL)
    return sorted(wards)


def _json(response):
    return response.get_json()


def _csv(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def _html(response) -> str:
    return response.get_data(as_text=True)


def _progress(estate, unit: str) -> dict:
    body = estate.api("admin", "GET", "/api/v1/progress", query_string=_q(org_unit=unit))
    return {k: v["value"] for k, v in body.get_json()["totals"].items()}


def _q(**more) -> dict:
    return {"campaign": "camp", **{k: v for k, v in more.items() if v is not None}}


def _items(estate, wards, kinds=("status_conflict", "suspected_double")) -> list[int]:
    return sorted(estate.wards[w].items[k] for w in wards for k in kinds)


def _gifts(estate, wards) -> list[str]:
    return sorted(g for w in wards for g in estate.wards[w].submissions["gift"])


def _works(estate, token: str, path="/api/v1/campaigns") -> bool:
    response = estate.client.get(path, headers={"Authorization": f"Bearer {token}"})
    return response.status_code == 200


# -- checks on what came back ------------------------------------------------------------


def check_children(estate, response, caller, variant):
    codes = [i["code"] for i in _json(response)["items"]]
    if variant is None:
        assert codes == ROOTS[caller]
    else:
        expected = {"C1": ["W1", "W2"], "C2": ["W3"]}[variant]
        assert codes == [c for c in expected if c in SCOPE[caller]]


def check_progress(estate, response, caller, variant):
    body = _json(response)
    totals = {k: v["value"] for k, v in body["totals"].items()}
    n = len(SUBTREE[variant])
    assert body["org_unit"]["code"] == variant
    assert (totals["citizens_reached"], totals["no_smartphone"], totals["refused"]) == (2 * n, n, n)
    assert (totals["gifts_delivered"], totals["suspected_doubles"]) == (n, n)
    assert totals["gift_value_vnd"] == 300_000 * n and totals["help_events"] == n


def check_queue(estate, response, caller, variant):
    assert sorted(i["id"] for i in _json(response)["items"]) == _items(
        estate, in_scope(caller, variant)
    )


def check_resolved(estate, response, caller, variant):
    assert _json(response)["status"] == "resolved"
    assert _progress(estate, variant)["gifts_delivered"] == 2  # the confirmed double counts


def check_corrected(estate, response, caller, variant):
    assert _json(response)["status"] == "installed"
    assert _progress(estate, variant)["accounts_installed"] == 2  # and the activated one


def check_export_rows(estate, response, caller, variant):
    assert sorted(r["id"] for r in _csv(response)) == _gifts(estate, in_scope(caller, variant))


def check_progress_rows(estate, response, caller, variant):
    rows = {r["org_unit"]: r for r in _csv(response)}
    expected = {variant} | (set(SUBTREE[variant]) if variant in ("C1", "C2") else set())
    assert set(rows) == expected
    assert int(rows[variant]["citizens_reached"]) == 2 * len(SUBTREE[variant])


def check_follow_ups(estate, response, caller, variant):
    rows = [r["citizen_id"] for r in _csv(response)]
    assert sorted(rows) == sorted(masked(citizen(w, 1)) for w in in_scope(caller, variant))


def check_devices(estate, response, caller, variant):
    listed = sorted(d["device_id"] for d in _json(response)["items"])
    assert listed == sorted(estate.wards[w].device_id for w in in_scope(caller))


def check_revoked(estate, response, caller, variant):
    assert estate.phones[variant].pull().status_code == 401


def check_pull(estate, response, caller, variant):
    changes = _json(response)["changes"]
    units = {c["id"] for c in changes if c["entity"] == "org_unit"}
    assert units == {"P", "C1", "W1"}  # its ward, and the ward's ancestors for display
    records = {c["data"]["record_id"] for c in changes if c["entity"] == "activation"}
    assert records == set(estate.wards["W1"].records)


def check_push(estate, response, caller, variant):
    [result] = _json(response)["results"]
    stored = estate.scalar("SELECT count(*) FROM submissions WHERE id = :i", i=result["id"])
    if variant == "W1":
        assert result["status"] == "applied" and stored == 1
    else:  # outside the phone's wards: refused item by item, and not stored
        assert result["status"] == "rejected" and "org_unit" in result["errors"]
        assert stored == 0


def check_code(estate, response, caller, variant):
    _enrols_into(estate, _json(response)["code"], variant)


def _enrols_into(estate, code: str, ward: str) -> None:
    device = estate.client.post("/api/v1/devices/enroll", json={"code": code, "name": "n"})
    token = device.get_json()["access_token"]
    pulled = estate.client.get("/api/v1/sync/pull", headers={"Authorization": f"Bearer {token}"})
    wards = {
        c["data"]["org_unit"] for c in pulled.get_json()["changes"] if c["entity"] == "activation"
    }
    assert wards == {ward}


def check_key(estate, response, caller, variant):
    key = _json(response)["key"]
    other = "W3" if variant == "W1" else "W1"
    for unit, status in ((variant, 200), (other, 403)):
        answer = estate.client.get(
            "/api/v1/exports/follow-ups",
            query_string=_q(org_unit=unit),
            headers={"Authorization": f"Bearer {key}"},
        )
        assert answer.status_code == status, unit


def check_key_revoked(estate, response, caller, variant):
    answer = estate.api(
        "key-w3", "GET", "/api/v1/exports/follow-ups", query_string=_q(org_unit="W3")
    )
    assert answer.status_code == 401


def check_page_unit(estate, response, caller, variant):
    html = _html(response)
    assert f'id="unit-name" data-code="{variant}"' in html
    assert re.search(r'data-metric="citizens_reached" data-value="2"', html)


def check_page_queue(estate, response, caller, variant):
    shown = sorted(
        int(i) for i in re.findall(r'class="item [a-z_]+" data-id="(\d+)"', _html(response))
    )
    assert shown == _items(estate, in_scope(caller))


def check_page_follow_ups(estate, response, caller, variant):
    html = _html(response)
    for ward in WARDS:
        assert (masked(citizen(ward, 1)) in html) == (ward == variant), ward
    assert WARD_NAMES[variant] in html


def check_page_devices(estate, response, caller, variant):
    shown = sorted(re.findall(r'class="device" data-id="([0-9a-f]+)"', _html(response)))
    assert shown == sorted(estate.wards[w].device_id for w in in_scope(caller))


def check_page_resolved(estate, response, caller, variant):
    item = estate.wards[variant].items["suspected_double"]
    assert estate.scalar("SELECT status FROM review_items WHERE id = :i", i=item) == "resolved"


def check_page_revoked(estate, response, caller, variant):
    assert estate.phones[variant].pull().status_code == 401


def check_page_code(estate, response, caller, variant):
    _enrols_into(
        estate, re.search(r'<code id="code-text">([^<]+)</code>', _html(response))[1], variant
    )


# -- ODK Collect (OpenRosa): the key in the path is the credential --------------------------


def collect_key(estate) -> str:
    """The key of an OpenRosa device of W1's volunteer (made once per estate, by an admin)."""
    if getattr(estate, "collect_key", None) is None:
        made = estate.api(
            "admin",
            "POST",
            "/api/v1/devices/openrosa",
            json={"volunteer": "vol-w1", "org_units": ["W1"], "name": "Collect"},
        )
        assert made.status_code == 201, made.get_data(as_text=True)
        estate.collect_key = made.get_json()["server_url"].rsplit("/", 1)[1]
        estate.collect_device = made.get_json()["device_id"]
    return estate.collect_key


def collect(estate, caller, path: str) -> str:
    """The W1 phone's caller uses the Collect device's key; every other caller has none of its
    own (its bearer token is sent, and ignored) and guesses one."""
    key = collect_key(estate) if caller == "phone-w1" else "k" * 43
    return f"/openrosa/key/{key}{path}"


def collect_may(ok=200, out=400):
    def may(caller, variant):
        if caller != "phone-w1":
            return 401, False
        return (ok, True) if variant in (None, "W1") else (out, False)

    return may


def _xml(response) -> str:
    return response.get_data(as_text=True)


def check_form_list(estate, response, caller, variant):
    listed = re.findall(r"<formID>([^<]+)</formID>", _xml(response))
    assert sorted(listed) == ["activation", "gift", "household_help"]


def check_xform(estate, response, caller, variant):
    body = _xml(response)
    assert 'id="gift"' in body and ">W1<" in body
    assert ">W2<" not in body and ">W3<" not in body  # only the device's own ward


def check_openrosa_device(estate, response, caller, variant):
    body = _json(response)
    url = body["server_url"]
    answer = estate.client.get(url.removeprefix("http://localhost") + "/forms/gift")
    assert answer.status_code == 200 and f">{variant}<" in _xml(answer)


def check_page_openrosa_device(estate, response, caller, variant):
    url = re.search(r'<code id="server-url">([^<]+)</code>', _html(response))[1]
    answer = estate.client.get(url.removeprefix("https://localhost") + "/formList")
    assert answer.status_code == 200


def check_collect_submission(estate, response, caller, variant):
    sid = estate.collect_sent
    row = estate.scalar("SELECT device_id FROM submissions WHERE id = :i", i=sid)
    assert row == estate.collect_device and "<OpenRosaResponse" in _xml(response)


def check_households_file(estate, response, caller, variant):
    """The W1 device's households: W1's (from the estate's forms), none of W2's or W3's."""
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert {r["org_unit"] for r in rows[1:]} == {"W1"}, rows
    assert rows[0]["name"] == "new"


def check_page_volunteers(estate, response, caller, variant):
    rows = dict(
        re.findall(
            r'class="volunteer" data-volunteer="([^"]+)" data-total="(\d+)"', _html(response)
        )
    )
    assert rows == {f"vol-{variant.lower()}": "6"}  # the ward's phone sent six forms
