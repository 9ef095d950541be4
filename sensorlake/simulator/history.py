"""History files of the simulated fleet: readings, events, equipment and a manifest.

Layout under ``out``::

    readings/part-00000.parquet ...   (or part-00000.jsonl with fmt="jsonl")
    events.parquet                    failures, maintenance, inspections
    equipment.parquet                 the fleet
    manifest.json                     seed, parameters, counts of every record by kind, failures

Parquet readings: site_id, equipment_id, sensor (str), event_time (timestamp[us, UTC]),
value (float64), unit (str), grouped by equipment and sensor within a part. JSON lines: one
record per reading (see ``records.py``) in event-time order, with the bad records injected.

Example::

    manifest = write_history(cfg, Path("/tmp/history"), days=1, fmt="parquet")
    manifest["counts"]["total_records_emitted"]
"""
from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from sensorlake.equipment import load_equipment_types
from sensorlake.errors import ConfigError
from sensorlake.progress import Progress
from sensorlake.simulator.bad_records import (BAD_KINDS, VALUE_KINDS, BadRecordInjector, InjectionLedger,
                                              InjectionSettings)
from sensorlake.simulator.fleet import Fleet, FleetSettings

FORMATS = ("parquet", "jsonl")
READING_SCHEMA = pa.schema([
    ("site_id", pa.string()), ("equipment_id", pa.string()), ("sensor", pa.string()),
    ("event_time", pa.timestamp("us", tz="UTC")), ("value", pa.float64()), ("unit", pa.string()),
])
EVENT_SCHEMA = pa.schema([
    ("event_id", pa.string()), ("site_id", pa.string()), ("equipment_id", pa.string()),
    ("event_time", pa.timestamp("us", tz="UTC")), ("event_type", pa.string()),
    ("failure_mode", pa.string()), ("notes", pa.string()),
])
EQUIPMENT_SCHEMA = pa.schema([
    ("equipment_id", pa.string()), ("site_id", pa.string()), ("equipment_type", pa.string()),
    ("install_date", pa.date32()), ("criticality", pa.string()),
])
# A Parquet part is closed once it holds at least this many rows.
ROWS_PER_PART = 4_000_000


def readings_table(fleet: Fleet, chunk) -> pa.Table:
    """A chunk as an Arrow table of the reading schema (strings dictionary-encoded, written as plain strings)."""
    eq_sites = np.array([fleet.settings.sites.index(eq.site_id) for eq in fleet.equipment], dtype=np.int32)

    def dictionary(codes, names):
        return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(names, pa.string()))

    return pa.table({
        "site_id": dictionary(eq_sites[chunk.equipment_index], list(fleet.settings.sites)),
        "equipment_id": dictionary(chunk.equipment_index, [eq.equipment_id for eq in fleet.equipment]),
        "sensor": dictionary(chunk.sensor_code, fleet.sensor_names),
        "event_time": pa.array(chunk.event_time_ms * 1000, pa.timestamp("us", tz="UTC")),
        "value": pa.array(chunk.value, pa.float64()),
        "unit": dictionary(chunk.unit_code, fleet.units),
    })


def events_table(events: list[dict]) -> pa.Table:
    """Events (as from ``Fleet.events``) as an Arrow table of the events schema."""
    cols = {name: [e.get(name) for e in events] for name in EVENT_SCHEMA.names if name != "event_time"}
    cols["event_time"] = pa.array(np.array([e["event_time_ms"] for e in events], dtype=np.int64) * 1000,
                                  pa.timestamp("us", tz="UTC"))
    return pa.table({name: cols[name] for name in EVENT_SCHEMA.names}, schema=EVENT_SCHEMA)


def equipment_table(fleet: Fleet) -> pa.Table:
    """The fleet as an Arrow table of the equipment schema."""
    rows = fleet.equipment
    return pa.table({
        "equipment_id": [e.equipment_id for e in rows], "site_id": [e.site_id for e in rows],
        "equipment_type": [e.equipment_type for e in rows], "install_date": [e.install_date for e in rows],
        "criticality": [e.criticality for e in rows],
    }, schema=EQUIPMENT_SCHEMA)


def build_manifest(mode: str, fleet: Fleet, injection: InjectionSettings, ledger: InjectionLedger,
                   events: list[dict], parameters: dict, end_ms: int, extra_counts: dict | None = None) -> dict:
    """The manifest: seed, parameters, counts by kind (exact), and the failure summary."""
    s = fleet.settings
    counts = ledger.counts()
    counts.update(extra_counts or {})
    return {
        "generator": "sensorlake.simulator",
        "mode": mode,
        "seed": s.seed,
        "parameters": {
            "start": s.start.isoformat().replace("+00:00", "Z"),
            "end": dt.datetime.fromtimestamp(end_ms / 1000, dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "days": s.days, "equipment_per_type": s.equipment_per_type, "sites": list(s.sites),
            "rate_scale": s.rate_scale, "degradation_hours": s.degradation_hours,
            "pm_interval_hours": s.pm_interval_hours, "chunk_seconds": s.chunk_seconds,
            "readings_per_second_nominal": round(fleet.readings_per_second, 3),
            **injection.as_dict(), **parameters,
        },
        "kinds": {"quarantine": list(BAD_KINDS[:5]), "bronze_keeps_one": ["duplicate"],
                  "bronze_keeps": ["out_of_order"], "late": "quarantined by the stream, a valid reading for batch ingest"},
        "counts": counts,
        "fleet": fleet.failure_summary(events=events),
    }


def write_manifest(manifest: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(tmp, path)


def write_history(fleet: Fleet, out: Path, fmt: str = "parquet", injection: InjectionSettings | None = None,
                  progress: Progress | None = None) -> dict:
    """Write the fleet's whole history under ``out`` and return the manifest (also written there).

    Parquet carries only value-level bad records (nan_value, out_of_range); JSON lines all kinds.

    Example::

        fleet = Fleet(types, FleetSettings(days=0.5))
        write_history(fleet, Path("/tmp/h"), "jsonl", InjectionSettings(bad_rate=0.01))
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown history format {fmt!r}", f"choose one of {', '.join(FORMATS)}")
    injection = injection or InjectionSettings(seed=fleet.settings.seed)
    if fmt == "parquet":
        unsupported = [k for k in injection.kinds if k not in VALUE_KINDS]
        if injection.bad_rate > 0 and unsupported == list(injection.kinds):
            raise ConfigError(f"Parquet history cannot carry {', '.join(unsupported)}",
                              "use --format jsonl for malformed, duplicate, late and out-of-order records")
        kinds = tuple(k for k in injection.kinds if k in VALUE_KINDS)
        injection = InjectionSettings(injection.bad_rate, injection.seed, kinds or VALUE_KINDS,
                                      injection.allowed_lateness_s, injection.late_by_s)
    out = Path(out)
    readings_dir = out / "readings"
    readings_dir.mkdir(parents=True, exist_ok=True)
    for old in readings_dir.glob("part-*"):
        old.unlink()
    injector = BadRecordInjector(fleet, injection)
    ledger = InjectionLedger(len(fleet.equipment))
    part, rows_in_part, writer, handle = 0, 0, None, None
    try:
        for chunk in fleet.chunks():
            if fmt == "parquet":
                labels = injector.corrupt_values(chunk)
                ledger.add_labels(labels, chunk.equipment_index)
                table = readings_table(fleet, chunk)
                if writer is None:  # dictionary-encoded in memory, plain strings in the file
                    writer = pq.ParquetWriter(readings_dir / f"part-{part:05d}.parquet", table.schema,
                                              compression="zstd", store_schema=False)
                writer.write_table(table, row_group_size=1_000_000)
            else:
                emitted = injector.emit(chunk.sorted_by_time())
                ledger.add(emitted)
                if handle is None:
                    handle = open(readings_dir / f"part-{part:05d}.jsonl", "w", encoding="utf-8")
                handle.write("\n".join(emitted.lines))
                handle.write("\n")
            rows_in_part += len(chunk)
            if progress:
                progress.advance(len(chunk))
            if rows_in_part >= ROWS_PER_PART:
                part, rows_in_part = part + 1, 0
                if writer is not None:
                    writer.close(); writer = None
                if handle is not None:
                    handle.close(); handle = None
    finally:
        if writer is not None:
            writer.close()
        if handle is not None:
            handle.close()
    events = fleet.events()
    pq.write_table(events_table(events), out / "events.parquet")
    pq.write_table(equipment_table(fleet), out / "equipment.parquet")
    manifest = build_manifest("history", fleet, injection, ledger, events,
                              {"format": fmt, "out": str(out)}, fleet.settings.end_ms)
    write_manifest(manifest, out / "manifest.json")
    return manifest
