"""Locust peer for bench/compare.sh case c: the golden path with a websocket-client user.

Each user logs in once (POST /auth/login, a distinct email, token from `access_token`); each task
then opens ws://HOST/ws with subprotocol `jwt.<token>` and `Authorization: Bearer <token>`, sends
one user_message, reads frames until `agent_completed`, checks that agent_started, agent_thinking,
tool_executing, tool_completed, agent_completed arrived in that order (repeats of one event
collapsed: the mock thinks twice), and closes (close handshake). One request event named `golden_path` per flow, so
the CSV's `golden_path` row counts flows and failed flows. Paced by constant_throughput
(BENCH_FLOW_RATE flows per second per user, default 1).
"""

import itertools
import json
import os
import time

# locust first: importing it monkey-patches the standard library for gevent, which websocket-client
# must see to be cooperative (imported before, its blocking reads would stall every user).
from locust import HttpUser, constant_throughput, task

import websocket  # websocket-client  # noqa: E402

RATE = float(os.environ.get("BENCH_FLOW_RATE", "1"))
GOLDEN = ["agent_started", "agent_thinking", "tool_executing", "tool_completed", "agent_completed"]
FAIL_ON = {"error", "error_message", "agent_error", "agent_failed", "agent_death", "agent_timeout_failure"}
MESSAGE = json.dumps({"type": "user_message", "payload": {"content": "Give me three ways to cut my GPU spend."}})
_user_numbers = itertools.count()


def close(ws):
    """Close handshake: send Close, read until the server's Close (2 s at most), drop the socket.

    Not `ws.close()`: its bare `except:` also swallows the GreenletExit with which Locust stops a
    user, and a user that ignores it keeps running after --run-time.
    """
    try:
        ws.send_close()
        ws.settimeout(2)
        while ws.recv_frame().opcode != websocket.ABNF.OPCODE_CLOSE:
            pass
    except (websocket.WebSocketException, OSError):
        pass
    finally:
        ws.shutdown()


class GoldenPath(HttpUser):
    wait_time = constant_throughput(RATE)

    def on_start(self):
        self.token = None
        email = f"locust-{os.getpid()}-{next(_user_numbers)}@example.test"
        with self.client.post(
            "/auth/login", json={"email": email, "password": "loadtest"}, name="login", catch_response=True
        ) as r:
            if r.status_code != 200:
                r.failure(f"login: HTTP {r.status_code}")
                return
            self.token = r.json().get("access_token")
            if not self.token:
                r.failure("login: no access_token")
        base = self.host.rstrip("/")
        self.ws_url = "ws" + base[len("http"):] + "/ws" if base.startswith("http") else base + "/ws"

    @task
    def golden_path(self):
        start = time.perf_counter()
        error = None
        try:
            if not self.token:
                raise RuntimeError("not logged in")
            ws = websocket.create_connection(
                self.ws_url,
                subprotocols=[f"jwt.{self.token}"],
                header=[f"Authorization: Bearer {self.token}"],
                timeout=10,
            )
            try:
                ws.send(MESSAGE)
                seen = []
                while True:
                    kind = json.loads(ws.recv()).get("type")
                    if kind in FAIL_ON:
                        raise RuntimeError(f"error event {kind}")
                    if kind in GOLDEN and (not seen or seen[-1] != kind):
                        seen.append(kind)
                    if kind == "agent_completed":
                        break
                if seen != GOLDEN:
                    raise RuntimeError(f"events out of order: {' '.join(seen)}")
            finally:
                close(ws)
        except Exception as e:  # every failure is counted, none stops the user
            error = e
        self.environment.events.request.fire(
            request_type="WS",
            name="golden_path",
            response_time=(time.perf_counter() - start) * 1000.0,
            response_length=0,
            exception=error,
            context={},
        )
