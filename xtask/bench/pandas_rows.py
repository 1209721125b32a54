"""The pandas side of the data-processor comparison: the same aggregation over the same CSV
(per numeric column count, nulls, sum, mean, min, max, sample stddev, median and p90; totals
by the first text column; totals per period with the change from the previous one).
Prints {"rows": N, "seconds": S}, timed from reading the file to the last aggregate."""

import json
import sys
import time

import pandas as pd

NULLS = ["", "NA", "N/A", "null", "NULL", "-"]

started = time.perf_counter()
frame = pd.read_csv(sys.argv[1], na_values=NULLS, keep_default_na=False)
numeric = frame.select_dtypes("number")
stats = numeric.agg(["count", "sum", "mean", "min", "max", "std", "median"])
p90 = numeric.quantile(0.9)
nulls = numeric.isna().sum()
by_region = frame.groupby("region")[list(numeric.columns)].sum()
by_quarter = frame.groupby("quarter")[list(numeric.columns)].sum().sort_index()
changes = by_quarter.diff()
percent = by_quarter.pct_change() * 100
seconds = time.perf_counter() - started
assert len(stats.columns) == len(numeric.columns) and len(by_region) > 0 and len(changes) > 0
print(json.dumps({"rows": len(frame), "seconds": seconds}))
