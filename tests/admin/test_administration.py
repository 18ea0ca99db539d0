"""Administration happy paths: the org-unit tree, campaigns, targets, users, the audit log."""

from __future__ import annotations

from sqlalchemy import select

from sync.models import AuditEntry, OrgUnit


def _post(client, world, url, body, who="admin"):
    return client.post(url, json=body, headers=world.headers(who))


def test_a_tree_of_any_depth(client, world, session):
    parent = "W1"
    for level in range(5):
        code = f"L{level}"
        response = _post(
            client,
            world,
            "/api/v1/org-units",
            {"code": code, "name": f"Level {level}", "parent": parent},
        )
        assert response.status_code == 201, response.get_json()
        assert response.get_json() == {
            "code": code,
            "name": f"Level {level}",
            "parent": parent,
            "depth": 3 + level,
        }
        parent = code
    units = {u.code: u for u in session.scalars(select(OrgUnit))}
    session.close()
    chain = ["P", "C1", "W1", "L0", "L1", "L2", "L3", "L4"]
    assert units["L4"].path == "/" + "/".join(str(units[c].id) for c in chain) + "/"
    listed = client.get("/api/v1/org-units?parent=L3", headers=world.headers("lead-w1"))
    assert [u["code"] for u in listed.get_json()["items"]] == ["L4"]


def test_duplicate_code_is_409(client, world):
    response = _post(client, world, "/api/v1/org-units", {"code": "W1", "name": "Again"})
    assert response.status_code == 409
    assert response.get_json()["errors"] == {"code": ["Already exists."]}


def test_campaign_defaults_to_vietnam_time(client, world):
    response = _post(
        client,
        world,
        "/api/v1/campaigns",
        {
            "code": "tet-2024",
            "name": "Tết 2024",
            "starts_on": "2024-01-20",
            "ends_on": "2024-02-20",
        },
    )
    assert response.status_code == 201
    assert response.get_json()["timezone"] == "Asia/Ho_Chi_Minh"
    listed = client.get("/api/v1/campaigns", headers=world.headers("vol-w1")).get_json()["items"]
    assert [c["code"] for c in listed] == ["camp", "tet-2024"]


def test_targets_set_replace_remove(client, world):
    url = "/api/v1/campaigns/camp/targets"
    first = client.put(
        url,
        json=[
            {"org_unit": "W1", "metric": "accounts_activated", "value": 10},
            {"org_unit": "W2", "metric": "accounts_activated", "value": 20},
        ],
        headers=world.headers("admin"),
    )
    assert first.status_code == 200
    second = client.put(
        url,
        json=[
            {"org_unit": "W1", "metric": "accounts_activated", "value": 15},
            {"org_unit": "W2", "metric": "accounts_activated", "value": None},
        ],
        headers=world.headers("admin"),
    )
    assert second.get_json()["targets"] == [
        {"org_unit": "W1", "metric": "accounts_activated", "value": 15}
    ]


def test_users_by_admin_and_by_lead(client, world):
    by_admin = _post(
        client, world, "/api/v1/users", {"username": "lead-w2", "role": "lead", "org_units": ["W2"]}
    )
    assert by_admin.status_code == 201
    assert by_admin.get_json() == {"username": "lead-w2", "role": "lead", "org_units": ["W2"]}
    by_lead = _post(
        client,
        world,
        "/api/v1/users",
        {
            "username": "tnv-moi",
            "role": "volunteer",
            "org_units": ["W1"],
            "password": "a long enough password",
        },
        who="lead-c1",
    )
    assert by_lead.status_code == 201
    login = client.post(
        "/api/v1/auth/login", json={"username": "tnv-moi", "password": "a long enough password"}
    )
    assert login.status_code == 200
    again = _post(
        client,
        world,
        "/api/v1/users",
        {"username": "tnv-moi", "role": "volunteer", "org_units": ["W1"]},
    )
    assert again.status_code == 409


def test_each_action_is_audited(client, world, session):
    _post(client, world, "/api/v1/org-units", {"code": "W9", "name": "Ward Nine", "parent": "C2"})
    client.put(
        "/api/v1/campaigns/camp/targets",
        json=[{"org_unit": "W9", "metric": "refused", "value": 3}],
        headers=world.headers("admin"),
    )
    _post(
        client,
        world,
        "/api/v1/users",
        {"username": "tnv-9", "role": "volunteer", "org_units": ["W9"]},
    )
    entries = session.scalars(
        select(AuditEntry).where(AuditEntry.actor_user_id.is_not(None)).order_by(AuditEntry.id)
    ).all()
    session.close()
    assert [(e.action, e.target_id) for e in entries] == [
        ("org_unit.create", "W9"),
        ("campaign.targets", "camp"),
        ("user.create", "tnv-9"),
    ]
