"""Sends N `wait_100ms` tasks to the Celery queue: `python celery_enqueue.py N`."""

import sys

from celery_app import wait_100ms

for _ in range(int(sys.argv[1])):
    wait_100ms.delay()
