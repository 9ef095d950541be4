"""The MLflow pyfunc model every task logs: ``predict`` returns scores, never class labels.

- binary: the probability of a failure within the horizon, one float in [0, 1] per row;
- multiclass: a DataFrame with one probability column per failure mode (rows sum to 1);
- regression: the predicted remaining useful life in hours;
- anomaly: the anomaly score in [0, 1] (needs ``equipment_id`` when fitted per equipment).

Inputs are the feature columns named in the model's signature, as doubles; extra columns are
ignored, so a feature-table row can be passed as it is. The decision threshold chosen at training
is in the model's metadata (``threshold``) and in :attr:`PredictiveMaintenanceModel.threshold`.

Example::

    model = mlflow.pyfunc.load_model("models:/sensorlake-failure@champion")
    model.predict(features_frame)                    # numpy array of probabilities
    model.metadata.metadata["threshold"]
"""
from __future__ import annotations

import numpy as np
import pandas as pd

try:
    from mlflow.pyfunc import PythonModel
except ImportError:  # pragma: no cover - mlflow is a pinned dependency
    PythonModel = object


class PredictiveMaintenanceModel(PythonModel):
    """A LightGBM booster or an anomaly scorer behind MLflow's pyfunc interface (see module doc)."""

    def __init__(self, kind: str, feature_columns: list[str], booster=None, classes=None, anomaly=None,
                 threshold: float | None = None, group_column: str | None = None):
        self.kind = kind
        self.feature_columns = list(feature_columns)
        self.booster = booster
        self.classes = list(classes) if classes is not None else None
        self.anomaly = anomaly
        self.threshold = threshold
        self.group_column = group_column

    def features(self, frame: pd.DataFrame) -> pd.DataFrame:
        missing = [c for c in self.feature_columns if c not in frame.columns]
        if missing:
            raise ValueError(f"input lacks {len(missing)} feature column(s) of the model: {missing[:10]}")
        # spark_udf hands over exactly the signature's columns: no selection, and no copy if already doubles
        selected = frame if list(frame.columns) == self.feature_columns else frame[self.feature_columns]
        return selected.astype("float64", copy=False)

    def predict_frame(self, frame: pd.DataFrame):
        X = self.features(frame)
        if self.kind == "anomaly":
            groups = frame[self.group_column].to_numpy() if self.group_column and self.group_column in frame else None
            return self.anomaly.score(X, groups)
        out = self.booster.predict(X)
        if self.kind == "multiclass":
            return pd.DataFrame(out, columns=self.classes, index=frame.index)
        if self.kind == "binary":
            return np.clip(out, 0.0, 1.0)
        return out

    def predict(self, context, model_input: pd.DataFrame, params=None):
        frame = model_input if isinstance(model_input, pd.DataFrame) else pd.DataFrame(model_input)
        return self.predict_frame(frame)


def input_columns(model: PredictiveMaintenanceModel) -> list[str]:
    """Columns the model's signature declares: the features, plus the group column of a per-equipment anomaly model."""
    return model.feature_columns + ([model.group_column] if model.group_column else [])
