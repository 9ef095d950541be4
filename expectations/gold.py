"""Suite of gold.predictions: one row per (equipment_id, window_end, model_name, model_version).

Example::

    suite = predictions_suite(cfg, df.schema)
    suite.checks_by_name["failure_probability_in_unit_interval"].severity   # 'critical'
"""
from __future__ import annotations

from sensorlake.config import Config

from expectations.checks import CRITICAL, WARNING, Check, TableSuite, key_unique, not_null

PREDICTIONS_TABLE = "gold.predictions"
PREDICTION_KEY = ("equipment_id", "window_end", "model_name", "model_version")
PREDICTION_COLUMNS = (("equipment_id", "string"), ("window_end", "timestamp"), ("model_name", "string"),
                      ("model_version", None), ("failure_probability", "numeric"))


def predictions_suite(cfg: Config, schema=None) -> TableSuite:
    """gold.predictions: a score on every row, probabilities in [0, 1], one row per key, model name and version present.

    A row holds the score of its model's kind: failure_probability (classifiers), predicted_rul
    (RUL regressors) or anomaly_score; the others stay NULL.
    """
    columns = set(schema.fieldNames()) if schema is not None else set()
    scores = [c for c in ("failure_probability", "predicted_rul", "anomaly_score") if c in columns] or ["failure_probability"]
    checks = [
        *(not_null(k) for k in PREDICTION_KEY),
        Check("score_present", CRITICAL, f"every row carries a score ({', '.join(scores)})",
              fail_when=f"coalesce({', '.join(scores)}) IS NULL"),
        Check("failure_probability_in_unit_interval", CRITICAL, "failure_probability, where present, is a number in [0, 1]",
              fail_when="failure_probability IS NOT NULL AND (isnan(failure_probability) "
                        "OR failure_probability < 0 OR failure_probability > 1)"),
        key_unique(PREDICTION_KEY),
    ]
    if "predicted_rul" in columns:
        checks.append(Check("predicted_rul_non_negative", WARNING, "predicted remaining useful life is >= 0",
                            fail_when="predicted_rul < 0"))
    return TableSuite(table=PREDICTIONS_TABLE, key=PREDICTION_KEY, checks=tuple(checks), unique_key=PREDICTION_KEY,
                      columns=PREDICTION_COLUMNS, exact_schema=False,
                      notes="Scores of one model version per equipment and window.")
