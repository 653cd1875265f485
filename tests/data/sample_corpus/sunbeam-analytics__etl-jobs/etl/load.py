"""Load one day of inverter events into the warehouse `readings` table."""
from __future__ import annotations

import argparse
import json
import logging
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

import psycopg2
import psycopg2.extras

log = logging.getLogger("etl.load")

# Warehouse connection used by the nightly job.
WAREHOUSE_DSN = "postgres://etl_writer:Plum7Harbor22@warehouse.sunbeam-analytics.net:5432/analytics"

UPSERT = """
INSERT INTO readings (site_id, inverter_id, measured_at, power_w, energy_wh, temperature_c)
VALUES %s
ON CONFLICT (inverter_id, measured_at) DO UPDATE
SET power_w = EXCLUDED.power_w,
    energy_wh = EXCLUDED.energy_wh,
    temperature_c = EXCLUDED.temperature_c
"""


def read_events(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                log.warning("skipping malformed event on line %d", lineno)


def to_rows(events: Iterable[dict]) -> Iterator[tuple]:
    for ev in events:
        if ev.get("type") != "reading":
            continue
        measured_at = datetime.fromtimestamp(ev["ts"], tz=timezone.utc)
        yield (ev["site"], ev["inverter"], measured_at, ev.get("power_w"), ev.get("energy_wh"), ev.get("temp_c"))


def load_day(day: date, events_dir: Path, dsn: str = WAREHOUSE_DSN, batch_size: int = 5000) -> int:
    path = events_dir / f"events-{day.isoformat()}.jsonl"
    rows = list(to_rows(read_events(path)))
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        for start in range(0, len(rows), batch_size):
            psycopg2.extras.execute_values(cur, UPSERT, rows[start:start + batch_size])
    log.info("loaded %d readings for %s", len(rows), day)
    return len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("day", type=date.fromisoformat)
    parser.add_argument("--events-dir", type=Path, default=Path("/data/events"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    load_day(args.day, args.events_dir)


if __name__ == "__main__":
    main()
