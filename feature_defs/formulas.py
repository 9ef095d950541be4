"""The aggregation formulas, written once as small expression trees that both compilers render.

Every time-domain aggregation is computed in three steps, the same in Flink SQL and in Spark:

1. **dedup** – one row per reading key ``(site_id, equipment_id, sensor, event_time)``; duplicates
   keep ``MAX(value)`` (deterministic in both engines, whatever order duplicates arrive in).
2. **centre** – per window, equipment and sensor: ``c = AVG(v)`` (the *shift*) and ``last_ts =
   MAX(event_time)``. Each deduplicated row then carries ``d = v - c``, ``t`` = seconds since the
   window start (exact integer milliseconds / 1000) and ``is_last = (event_time = last_ts)``.
3. **partials** – per window and equipment, one conditional aggregate per sensor and partial
   (``SUM(CASE WHEN sensor = 'x' THEN d*d END)`` ...), see :data:`PARTIALS`; then the
   **formulas** below turn partials into features (:data:`AGGREGATIONS`).

Centring on the window mean before raising to powers is the two-pass form: the sums of powers of
``d`` do not cancel, so std/skewness/kurtosis keep ~1e-13 relative precision even for a speed of
1500 rpm with a 0.1 rpm spread (raw sums of x**4 would lose ~8 digits there).

Formula table (``n`` = deduplicated readings of the sensor in the window, ``x`` = value,
``M_k = sum((x - mean)**k)`` from the centred partials, ``t`` in seconds since window start):

=============  ===============================================  =====================================
aggregation    formula                                          NULL when / notes
=============  ===============================================  =====================================
count          n                                                never (0 if the sensor has no reading)
mean           c + s1/n                                         n = 0
std            sqrt(M2 / (n-1))  -- *sample* std (ddof=1),      n < 2; 0.0 when min = max
               like Spark ``stddev_samp``
min / max      min(x) / max(x)                                  n = 0
rms            sqrt(sum(x**2) / n)                              n = 0
peak_to_peak   max(x) - min(x)                                  n = 0
crest_factor   max(abs(x)) / rms                                n = 0 or all x = 0
skewness       sqrt(n) * M3 / M2**1.5  -- *population*         n = 0 or min = max
               (biased) skewness, like Spark ``skewness``
kurtosis       n * M4 / M2**2 - 3  -- *excess*, population     n = 0 or min = max
               moments, like Spark ``kurtosis``
slope          least squares of x on t, value-units/second:    n < 2; 0.0 when min = max
               (n*sum(t*d) - sum(t)*sum(d)) /
               (n*sum(t**2) - sum(t)**2)
last           x at the latest event_time (duplicates were      n = 0
               resolved to their max value in step 1)
=============  ===============================================  =====================================

with ``s_k = sum(d**k)``, ``d1 = s1/n``: ``M2 = s2 - s1*s1/n``, ``M3 = s3 - 3*d1*s2 + 2*n*d1**3``,
``M4 = s4 - 4*d1*s3 + 6*d1**2*s2 - 3*n*d1**4`` (exact for any shift; ``d1`` ~ 0 with the mean as shift).

Every division is guarded by a CASE, so neither engine divides by zero (Spark 4 runs in ANSI
mode, where that raises). ``FORMULA_REVISION`` enters every view's fingerprint: bump it when a
formula here changes, so tables written with the old formulas are refused.

Example::

    AGGREGATIONS["std"].expr          # the expression tree both compilers render
    render_sql(AGGREGATIONS["mean"].expr, lambda ref: f"vibration__p_{ref}")
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

FORMULA_REVISION = 1
ENGINES = ("flink", "spark")


# --------------------------------------------------------------------------------------------
# A tiny expression language: enough for the formulas, rendered to Flink SQL and to PySpark.
# --------------------------------------------------------------------------------------------
class Expr:
    """An expression node; ``+ - * /`` and unary ``-`` build new nodes."""

    def __add__(self, other): return Op("+", (self, lit(other)))
    def __radd__(self, other): return Op("+", (lit(other), self))
    def __sub__(self, other): return Op("-", (self, lit(other)))
    def __rsub__(self, other): return Op("-", (lit(other), self))
    def __mul__(self, other): return Op("*", (self, lit(other)))
    def __rmul__(self, other): return Op("*", (lit(other), self))
    def __truediv__(self, other): return Op("/", (self, lit(other)))
    def __rtruediv__(self, other): return Op("/", (lit(other), self))
    def __neg__(self): return Op("neg", (self,))


@dataclass(frozen=True, eq=True)
class Ref(Expr):
    """A named column: a row-level term (v, d, t, is_last, centre) or a partial (n, s2, ...)."""

    name: str


@dataclass(frozen=True, eq=True)
class Lit(Expr):
    """A DOUBLE literal."""

    value: float


@dataclass(frozen=True, eq=True)
class Op(Expr):
    """An operation: + - * / neg sqrt abs, comparisons (< <= = >= >), and, or, when (NULL otherwise), case."""

    op: str
    args: tuple


def lit(value) -> Expr:
    return value if isinstance(value, Expr) else Lit(float(value))


def sqrt(x) -> Expr: return Op("sqrt", (lit(x),))
def abs_(x) -> Expr: return Op("abs", (lit(x),))
def lt(a, b) -> Expr: return Op("<", (lit(a), lit(b)))
def le(a, b) -> Expr: return Op("<=", (lit(a), lit(b)))
def eq(a, b) -> Expr: return Op("=", (lit(a), lit(b)))
def ge(a, b) -> Expr: return Op(">=", (lit(a), lit(b)))
def gt(a, b) -> Expr: return Op(">", (lit(a), lit(b)))
def and_(a, b) -> Expr: return Op("and", (a, b))
def or_(a, b) -> Expr: return Op("or", (a, b))


def when(cond: Expr, value) -> Expr:
    """``value`` where ``cond`` holds, else NULL."""
    return Op("when", (cond, lit(value)))


def case(cond: Expr, then, otherwise) -> Expr:
    """``then`` where ``cond`` holds, else ``otherwise``."""
    return Op("case", (cond, lit(then), lit(otherwise)))


def refs(expr: Expr) -> set[str]:
    """Names of the columns an expression reads."""
    if isinstance(expr, Ref):
        return {expr.name}
    if isinstance(expr, Op):
        out: set[str] = set()
        for arg in expr.args:
            out |= refs(arg)
        return out
    return set()


_INFIX = {"+", "-", "*", "/", "<", "<=", "=", ">=", ">"}


def _sql_double(value: float) -> str:
    text = repr(float(value))
    # 1.0E0 is a DOUBLE literal in Flink SQL and Spark SQL (1.0 alone is a DECIMAL in both).
    return text.upper() if "e" in text else f"{text}E0"


def render_sql(expr: Expr, column: Callable[[str], str]) -> str:
    """Render as SQL text (Flink SQL; Spark SQL reads it too). ``column`` maps a Ref name to SQL."""
    if isinstance(expr, Ref):
        return column(expr.name)
    if isinstance(expr, Lit):
        return _sql_double(expr.value)
    a = [render_sql(x, column) for x in expr.args]
    if expr.op in _INFIX:
        return f"({a[0]} {expr.op} {a[1]})"
    if expr.op in ("and", "or"):
        return f"({a[0]} {expr.op.upper()} {a[1]})"
    if expr.op == "neg":
        return f"(-{a[0]})"
    if expr.op == "sqrt":
        return f"SQRT({a[0]})"
    if expr.op == "abs":
        return f"ABS({a[0]})"
    if expr.op == "when":
        return f"CASE WHEN {a[0]} THEN {a[1]} END"
    if expr.op == "case":
        return f"CASE WHEN {a[0]} THEN {a[1]} ELSE {a[2]} END"
    raise ValueError(f"unknown operation {expr.op!r}")


def render_spark(expr: Expr, column: Callable[[str], object]):
    """Render as a PySpark Column. ``column`` maps a Ref name to a Column."""
    from pyspark.sql import functions as F

    if isinstance(expr, Ref):
        return column(expr.name)
    if isinstance(expr, Lit):
        return F.lit(float(expr.value))
    a = [render_spark(x, column) for x in expr.args]
    op = expr.op
    if op == "+": return a[0] + a[1]
    if op == "-": return a[0] - a[1]
    if op == "*": return a[0] * a[1]
    if op == "/": return a[0] / a[1]
    if op == "<": return a[0] < a[1]
    if op == "<=": return a[0] <= a[1]
    if op == "=": return a[0] == a[1]
    if op == ">=": return a[0] >= a[1]
    if op == ">": return a[0] > a[1]
    if op == "and": return a[0] & a[1]
    if op == "or": return a[0] | a[1]
    if op == "neg": return -a[0]
    if op == "sqrt": return F.sqrt(a[0])
    if op == "abs": return F.abs(a[0])
    if op == "when": return F.when(a[0], a[1])
    if op == "case": return F.when(a[0], a[1]).otherwise(a[2])
    raise ValueError(f"unknown operation {op!r}")


def render_pyspark_text(expr: Expr, column: Callable[[str], str]) -> str:
    """Render as readable PySpark code (for ``describe``; needs no Spark session)."""
    if isinstance(expr, Ref):
        return column(expr.name)
    if isinstance(expr, Lit):
        return f"F.lit({float(expr.value)!r})"
    a = [render_pyspark_text(x, column) for x in expr.args]
    op = expr.op
    if op in _INFIX:
        return f"({a[0]} {'==' if op == '=' else op} {a[1]})"
    if op in ("and", "or"):
        return f"({a[0]} {'&' if op == 'and' else '|'} {a[1]})"
    if op == "neg":
        return f"(-{a[0]})"
    if op in ("sqrt", "abs"):
        return f"F.{op}({a[0]})"
    if op == "when":
        return f"F.when({a[0]}, {a[1]})"
    if op == "case":
        return f"F.when({a[0]}, {a[1]}).otherwise({a[2]})"
    raise ValueError(f"unknown operation {op!r}")


# --------------------------------------------------------------------------------------------
# Partials: per-sensor conditional aggregates over the deduplicated, centred rows.
# Row-level terms: v (value), d (v - centre), t (seconds since window start), is_last, centre.
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Partial:
    """One per-sensor aggregate ``agg(CASE WHEN sensor = <s> THEN row_expr END)``; agg in count/sum/min/max."""

    name: str
    agg: str
    row_expr: Expr
    dtype: str = "double"


_v, _d, _t = Ref("v"), Ref("d"), Ref("t")

PARTIALS: dict[str, Partial] = {p.name: p for p in (
    Partial("n", "count", _v, dtype="bigint"),
    Partial("c", "max", Ref("centre")),               # the shift: constant per window and sensor
    Partial("s1", "sum", _d),
    Partial("s2", "sum", _d * _d),
    Partial("s3", "sum", _d * _d * _d),
    Partial("s4", "sum", _d * _d * _d * _d),
    Partial("sq", "sum", _v * _v),
    Partial("mn", "min", _v),
    Partial("mx", "max", _v),
    Partial("amax", "max", abs_(_v)),
    Partial("st", "sum", _t),
    Partial("stt", "sum", _t * _t),
    Partial("std", "sum", _t * _d),
    Partial("last", "max", when(Ref("is_last"), _v)),
)}


# --------------------------------------------------------------------------------------------
# Formulas over partials (Ref("n") is read as DOUBLE in arithmetic).
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Aggregation:
    """A per-sensor feature: its formula over partials, output type, doc, and the engines computing it."""

    name: str
    expr: Expr
    doc: str
    dtype: str = "double"
    engines: tuple[str, ...] = ENGINES

    @property
    def partials(self) -> set[str]:
        return refs(self.expr)


_n = Ref("n")
_s1, _s2, _s3, _s4 = Ref("s1"), Ref("s2"), Ref("s3"), Ref("s4")
_mn, _mx = Ref("mn"), Ref("mx")
_d1 = _s1 / _n
_M2 = _s2 - _s1 * _s1 / _n
_M2_pos = case(lt(_M2, 0.0), 0.0, _M2)        # rounding must never make sqrt see a negative
_M3 = _s3 - 3.0 * _d1 * _s2 + 2.0 * _n * _d1 * _d1 * _d1
_M4 = _s4 - 4.0 * _d1 * _s3 + 6.0 * _d1 * _d1 * _s2 - 3.0 * _n * _d1 * _d1 * _d1 * _d1
_rms = sqrt(Ref("sq") / _n)
_varies = gt(_mx, _mn)
_slope = (_n * Ref("std") - Ref("st") * _s1) / (_n * Ref("stt") - Ref("st") * Ref("st"))

AGGREGATIONS: dict[str, Aggregation] = {a.name: a for a in (
    Aggregation("count", _n, "deduplicated readings in the window", dtype="bigint"),
    Aggregation("mean", when(gt(_n, 0.0), Ref("c") + _d1), "arithmetic mean"),
    Aggregation("std", when(ge(_n, 2.0), case(_varies, sqrt(_M2_pos / (_n - 1.0)), 0.0)),
                "sample standard deviation (n-1), like Spark stddev_samp; NULL when n < 2"),
    Aggregation("min", _mn, "minimum"),
    Aggregation("max", _mx, "maximum"),
    Aggregation("rms", when(gt(_n, 0.0), _rms), "root mean square sqrt(mean(x^2))"),
    Aggregation("peak_to_peak", _mx - _mn, "max - min"),
    Aggregation("crest_factor", when(gt(Ref("amax"), 0.0), Ref("amax") / _rms),
                "max(|x|) / rms; NULL when every value is 0"),
    Aggregation("skewness", when(_varies, sqrt(_n) * _M3 / (_M2 * sqrt(_M2))),
                "population skewness m3/m2^1.5, like Spark skewness; NULL when min = max"),
    Aggregation("kurtosis", when(_varies, _n * _M4 / (_M2 * _M2) - 3.0),
                "excess population kurtosis m4/m2^2 - 3, like Spark kurtosis; NULL when min = max"),
    Aggregation("slope", when(ge(_n, 2.0), case(_varies, _slope, 0.0)),
                "least-squares slope of value on seconds since window start (value-units/s); NULL when n < 2"),
    Aggregation("last", Ref("last"), "value at the latest event_time"),
)}

TIME_DOMAIN = tuple(AGGREGATIONS)

# Spectral features: numpy FFT per window (see feature_defs/spectral.py); Flink SQL cannot compute them.
SPECTRAL_FEATURES: dict[str, tuple[str, ...]] = {
    "band_energy": ("spark",),
    "dominant_frequency": ("spark",),
    "spectral_centroid": ("spark",),
}

# Cross-sensor feature functions: name -> (formula over two features a and b, doc).
CROSS_FUNCTIONS: dict[str, tuple[Callable[[Expr, Expr], Expr], str]] = {
    "ratio": (lambda a, b: when(_nonzero(b), a / b), "a / b; NULL when b is 0 or NULL"),
    "difference": (lambda a, b: a - b, "a - b"),
    "product": (lambda a, b: a * b, "a * b"),
}


def _nonzero(b: Expr) -> Expr:
    return or_(lt(b, 0.0), gt(b, 0.0))


def needed_partials(aggregations) -> list[str]:
    """The partials (in PARTIALS order) the given aggregation names read."""
    names: set[str] = set()
    for agg in aggregations:
        names |= AGGREGATIONS[agg].partials
    return [p for p in PARTIALS if p in names]


def formula_table() -> list[tuple[str, str]]:
    """(aggregation, doc) rows, for ``sensorlake features list`` and documentation."""
    return [(a.name, a.doc) for a in AGGREGATIONS.values()]


def column_mapping(mapping: Mapping[str, str]) -> Callable[[str], str]:
    """A ``column`` callback from a dict (KeyError names the missing column)."""
    return lambda name: mapping[name]
