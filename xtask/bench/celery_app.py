"""The Celery side of `cargo xtask bench`: the same 100 ms task Bayko runs, on Celery's SQS
transport against the same emulator. Every finished task appends its end time to a file, so
the bench can count them and measure the rate from the first to the last."""

import os
import time

from celery import Celery

app = Celery("bench", broker=os.environ["BENCH_BROKER_URL"])
app.conf.broker_transport_options = {"region": "us-east-1", "is_secure": False}
app.conf.task_default_queue = os.environ["BENCH_QUEUE"]
app.conf.worker_hijack_root_logger = False

DONE_FILE = os.environ["BENCH_DONE_FILE"]


@app.task
def wait_100ms():
    time.sleep(0.1)
    with open(DONE_FILE, "a", encoding="utf-8") as done:
        done.write(f"{time.time()}\n")
