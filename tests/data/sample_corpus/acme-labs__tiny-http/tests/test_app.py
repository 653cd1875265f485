import pytest

from tinyhttp.app import create_app
from tinyhttp.config import Settings


@pytest.fixture()
def client():
    app = create_app(Settings())
    app.config["TESTING"] = True
    with app.test_client() as c:
        yield c


def test_health_reports_version(client):
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.get_json() == {"ok": True, "version": "0.9.1"}


def test_create_then_list(client):
    resp = client.post("/items", json={"name": "bolt M6", "qty": 40})
    assert resp.status_code == 201
    created = resp.get_json()
    listing = client.get("/items").get_json()
    assert created in listing["items"]


def test_create_requires_name(client):
    assert client.post("/items", json={"qty": 1}).status_code == 400


def test_delete_unknown_item_is_404(client):
    assert client.delete("/items/9999").status_code == 404
