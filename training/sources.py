"""Delta tables read at a pinned version, and those versions logged to MLflow as the run's inputs.

A training run first pins every table it reads (the current version, or one given to reproduce
an earlier run), then reads each one ``versionAsOf`` that pin: rows committed meanwhile by the
stream or a backfill do not leak into the run, and MLflow records where the rows came from.

Example::

    pins = pin_tables(cfg, ["silver.features_machine_1m", "bronze.events"], given={"bronze.events": 7})
    features = read_pinned(spark, pins["silver.features_machine_1m"])
    log_pinned_inputs(pins.values())          # inside an active MLflow run
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Iterable, Mapping

from sensorlake.config import Config
from sensorlake.errors import ConfigError, InputError


@dataclass(frozen=True)
class PinnedTable:
    """A Delta table name, its storage path and the version a run reads."""

    name: str
    path: str
    version: int

    @property
    def digest(self) -> str:
        return hashlib.md5(f"{self.path}@{self.version}".encode()).hexdigest()[:8]


def pin_tables(cfg: Config, tables: Iterable[str], given: Mapping[str, int] | None = None) -> dict[str, PinnedTable]:
    """Pin each table at its current version, or at the version ``given`` for it (reproducing a run).

    Raises InputError for a missing table, ConfigError for a version the table does not have.
    """
    from deltalake import DeltaTable

    given = dict(given or {})
    unknown = set(given) - set(tables)
    if unknown:
        raise ConfigError(f"pinned versions given for tables the task does not read: {', '.join(sorted(unknown))}",
                          f"the task reads {', '.join(tables)}")
    pins = {}
    for name in tables:
        path = str(cfg.table_path(name))
        if not DeltaTable.is_deltatable(path):
            raise InputError(f"table {name} does not exist at {path}",
                             "ingest history (sensorlake ingest) and backfill the feature view (sensorlake backfill) first")
        current = DeltaTable(path).version()
        version = int(given.get(name, current))
        if not 0 <= version <= current:
            raise ConfigError(f"table {name} has versions 0..{current}, not {version}", "pin an existing version")
        pins[name] = PinnedTable(name, path, version)
    return pins


def read_pinned(spark, pin: PinnedTable):
    """The table as a Spark DataFrame at its pinned version (Delta time travel)."""
    return spark.read.format("delta").option("versionAsOf", pin.version).load(pin.path)


def log_pinned_inputs(pins: Iterable[PinnedTable], context: str = "source") -> None:
    """Log each pinned table to the active MLflow run: a dataset input (Delta source with its version)
    plus a ``input_version.<table>`` parameter (readable in the runs table, and exact for version 0,
    which MLflow's Delta source leaves out of its JSON)."""
    import mlflow
    from mlflow.data.delta_dataset_source import DeltaDatasetSource
    from mlflow.data.meta_dataset import MetaDataset

    for pin in pins:
        dataset = MetaDataset(DeltaDatasetSource(path=pin.path, delta_table_version=pin.version),
                              name=f"{pin.name}@v{pin.version}", digest=pin.digest)
        mlflow.log_input(dataset, context=context, tags={"table": pin.name, "version": str(pin.version)})
        mlflow.log_param(f"input_version.{pin.name}", pin.version)
