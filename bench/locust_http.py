"""Locust peer for bench/compare.sh case b: GET /health at a fixed total rate (users x BENCH_USER_RATE/s).

Two user classes, picked by name on the locust command line:
  FastHealth  - FastHttpUser (geventhttpclient), Locust's fast client
  Health      - HttpUser (python-requests), Locust's default client
"""

import os

from locust import FastHttpUser, HttpUser, constant_throughput, task

RATE = float(os.environ.get("BENCH_USER_RATE", "40"))


class FastHealth(FastHttpUser):
    wait_time = constant_throughput(RATE)

    @task
    def health(self):
        self.client.get("/health")


class Health(HttpUser):
    wait_time = constant_throughput(RATE)

    @task
    def health(self):
        self.client.get("/health")
