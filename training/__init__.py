"""Training: point-in-time training sets, LightGBM models, evaluation, MLflow tracking and registry.

Modules, one job each: ``config`` (a task as configuration), ``sources`` (Delta tables at pinned
versions), ``labels`` (point-in-time labels), ``dataset`` (the training set), ``split``
(time / equipment splits), ``models`` (LightGBM), ``anomaly`` (unsupervised scores),
``alerts`` (alerts and the decision threshold), ``metrics``, ``plots``, ``pyfunc`` (the logged
model), ``registry`` (champion / challenger), ``train`` (the run), ``job`` (the entry point).

Example::

    from training import train_task
    report = train_task(spark, cfg, "failure")
"""
from __future__ import annotations


def train_task(*args, **kwargs):
    """See :func:`training.train.train_task` (imported lazily: MLflow and LightGBM load on use)."""
    from training.train import train_task as _train_task

    return _train_task(*args, **kwargs)


__all__ = ["train_task"]
