# orbit-cli - satellite pass predictions on the command line
# Copyright (C) 2022 The Orbit CLI contributors
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
"""Entry point: `orbit passes` and `orbit sats`."""
from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
import urllib.request
from datetime import datetime, timezone

from orbit.retry import retry

API_BASE = "https://api.orbit-passes.example/v2"


@retry(attempts=3, base_delay=0.5, retry_on=(OSError,))
def get_json(path: str, **params) -> dict:
    url = f"{API_BASE}{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.load(resp)


def cmd_passes(args: argparse.Namespace) -> int:
    data = get_json("/passes", lat=args.lat, lon=args.lon, sat=args.sat, days=args.days)
    for p in data.get("passes", []):
        start = datetime.fromtimestamp(p["start"], tz=timezone.utc)
        print(f"{start:%Y-%m-%d %H:%M} UTC  max elevation {p['max_el']:>4.1f} deg  {p['duration_s'] // 60} min")
    return 0


def cmd_sats(args: argparse.Namespace) -> int:
    for sat in get_json("/satellites", q=args.query).get("satellites", []):
        print(f"{sat['norad_id']:>6}  {sat['name']}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orbit")
    sub = parser.add_subparsers(dest="command", required=True)
    passes = sub.add_parser("passes", help="list visible passes")
    passes.add_argument("--lat", type=float, required=True)
    passes.add_argument("--lon", type=float, required=True)
    passes.add_argument("--sat", default="ISS")
    passes.add_argument("--days", type=int, default=1)
    passes.set_defaults(func=cmd_passes)
    sats = sub.add_parser("sats", help="search satellites by name")
    sats.add_argument("query")
    sats.set_defaults(func=cmd_sats)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
