"""Application factory and routes."""
from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask, abort, jsonify, request

from tinyhttp.config import Settings, load_settings

log = logging.getLogger(__name__)

_ITEMS: dict[int, dict[str, Any]] = {}


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    app.config["SETTINGS"] = settings

    @app.route("/health")
    def health():
        return jsonify(ok=True, version=settings.version)

    @app.route("/items", methods=["GET"])
    def list_items():
        limit = request.args.get("limit", default=50, type=int)
        items = sorted(_ITEMS.values(), key=lambda item: item["id"])[:limit]
        return jsonify(items=items, total=len(_ITEMS))

    @app.route("/items", methods=["POST"])
    def create_item():
        body = request.get_json(silent=True) or {}
        name = str(body.get("name", "")).strip()
        if not name:
            abort(400, description="name is required")
        item_id = max(_ITEMS, default=0) + 1
        _ITEMS[item_id] = {"id": item_id, "name": name, "qty": int(body.get("qty", 0))}
        log.info("created item %d", item_id)
        return jsonify(_ITEMS[item_id]), 201

    @app.route("/items/<int:item_id>", methods=["DELETE"])
    def delete_item(item_id: int):
        if _ITEMS.pop(item_id, None) is None:
            abort(404)
        return "", 204

    return app


def main() -> None:
    logging.basicConfig(level=logging.INFO)
    host, _, port = os.environ.get("TINYHTTP_BIND", "127.0.0.1:8080").partition(":")
    create_app().run(host=host, port=int(port or 8080))


if __name__ == "__main__":
    main()
