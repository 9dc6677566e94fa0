"""The admin gives each dean the buildings they oversee, on the admin page as with
``kuzet hub user add --buildings``: a dean without a building is refused, only deans have
buildings, and a dean's list can be changed there."""

from __future__ import annotations

from hub.store import users
from hub.store.db import connect
from tests.support.hub_env import login


def dean_buildings(services, username: str) -> list[str] | None:
    conn = connect(services.db_path, readonly=True)
    try:
        return users.buildings(conn, users.id_of(conn, username))
    except ValueError:                       # no such user
        return None
    finally:
        conn.close()


def admin_in_english(client) -> str:
    token = login(client, "admin")
    client.post("/language", data={"lang": "en", "csrf_token": token})
    return token


def add(client, token: str, username: str, role: str, buildings: str = ""):
    return client.post("/admin/users", data={
        "csrf_token": token, "username": username, "password": "a long password",
        "role": role, "display_name": username, "buildings": buildings},
        follow_redirects=True)


def test_a_dean_is_added_with_their_buildings(client, services):
    token = admin_in_english(client)
    page = add(client, token, "new_dean", "dean", "main, east")
    assert "User added." in page.text
    assert dean_buildings(services, "new_dean") == ["east", "main"]
    assert 'value="east, main"' in client.get("/admin/").text


def test_a_dean_without_a_building_and_a_proctor_with_one_are_refused(client, services):
    token = admin_in_english(client)
    assert "a dean needs the buildings" in add(client, token, "lost_dean", "dean").text
    assert dean_buildings(services, "lost_dean") is None          # nothing half-added
    assert "a dean needs the buildings" in add(client, token, "p2", "proctor", "main").text
    assert dean_buildings(services, "p2") is None


def test_the_admin_changes_a_deans_buildings(client, services):
    token = admin_in_english(client)
    add(client, token, "d2", "dean", "main")
    conn = connect(services.db_path, readonly=True)
    uid = users.id_of(conn, "d2")
    proctor = users.id_of(conn, "aigerim")
    conn.close()
    r = client.post(f"/admin/users/{uid}/buildings",
                    data={"csrf_token": token, "buildings": "east;north"},
                    follow_redirects=True)
    assert "Buildings saved." in r.text
    assert dean_buildings(services, "d2") == ["east", "north"]
    bad = client.post(f"/admin/users/{uid}/buildings",
                      data={"csrf_token": token, "buildings": "no/slash"}, follow_redirects=True)
    assert "bad building name" in bad.text and dean_buildings(services, "d2") == ["east", "north"]
    assert client.post(f"/admin/users/{proctor}/buildings",
                       data={"csrf_token": token, "buildings": "main"}).status_code == 404
