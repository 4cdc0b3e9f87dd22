#!/usr/bin/env bash
# Tests of the container image on this machine's Docker engine (no registry needed).
#
#   tests/docker/run.sh            # builds the image by the local path, then tests it
#   SKIP_BUILD=1 LOAD_TESTER_IMAGE=load-tester:local tests/docker/run.sh   # test an existing image
#
# What it checks: the image's size (< 25 MB), `--help`, no shell or `id` in the image and a
# non-root user (uid 65532), the mock and the load tester as containers on a private network,
# exit 3 when the target never comes up, the compose example (exit 0, results in the volume), a
# 3-way sharded compose run whose merged total is known in advance, and `docker stop` mid-run
# (gone within 5 s, results written, the same flow counts in the results as in the summary).
# Every container, network, volume and compose project gets a unique name and is removed at the
# end (also on failure). Every docker command is bounded in time. Exit status 1 on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

IMAGE="${LOAD_TESTER_IMAGE:-load-tester:local}"
ID="lt$(date +%s)$$"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/load-tester-docker.XXXXXX")"
COMPOSE_FILE=dockerfiles/compose.yml
PASSED=0
FAILED=0
CONTAINERS=()
NETWORKS=()
VOLUMES=()
PROJECTS=()

say() { printf '[docker-tests] %s\n' "$*"; }
ok() { PASSED=$((PASSED + 1)); printf '[docker-tests] ok   %s\n' "$*"; }
bad() { FAILED=$((FAILED + 1)); printf '[docker-tests] FAIL %s\n' "$*" >&2; }
# check DESCRIPTION COMMAND...: runs the command, counts the result.
check() {
    local what="$1"
    shift
    if "$@"; then ok "$what"; else bad "$what"; fi
}

if docker compose version >/dev/null 2>&1; then
    COMPOSE=(docker compose)
elif command -v docker-compose >/dev/null 2>&1; then
    COMPOSE=(docker-compose)
else
    COMPOSE=()
fi
compose() { # compose PROJECT ARGS...
    local project="$1"
    shift
    LOAD_TESTER_IMAGE="$IMAGE" timeout 300 "${COMPOSE[@]}" -f "$COMPOSE_FILE" -p "$project" "$@"
}

cleanup() {
    local p c
    # Containers first: a volume in use by one cannot be removed.
    for c in "${CONTAINERS[@]}"; do timeout 30 docker rm -f -v "$c" >/dev/null 2>&1 || true; done
    for p in "${PROJECTS[@]}"; do
        compose "$p" --profile testing down -v --remove-orphans >/dev/null 2>&1 || true
        VOLUMES+=("${p}_staging-load-test-results")
    done
    for c in "${VOLUMES[@]}"; do timeout 30 docker volume rm -f "$c" >/dev/null 2>&1 || true; done
    for c in "${NETWORKS[@]}"; do timeout 30 docker network rm "$c" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Copies a volume's /app/results into a fresh host directory (the image has no shell: docker cp
# from a container that mounts it, removed at once so that the volume can be removed).
fetch_volume() { # fetch_volume VOLUME DEST
    local cid rc
    cid="$(timeout 30 docker create -v "$1:/app/results" "$IMAGE")" || return 1
    CONTAINERS+=("$cid")
    mkdir -p "$2" && timeout 60 docker cp "$cid:/app/results/." "$2/"
    rc=$?
    timeout 30 docker rm -f "$cid" >/dev/null 2>&1
    return "$rc"
}

# json_check FILE PYTHON-EXPR [MESSAGE]: evaluates EXPR with `d` = the parsed JSON.
json_check() {
    "$PY" - "$1" "$2" <<'EOF'
import json, sys
path, expr = sys.argv[1], sys.argv[2]
try:
    d = json.load(open(path))
except Exception as e:
    print(f"  cannot read {path}: {e}", file=sys.stderr)
    sys.exit(1)
if not eval(expr, {"d": d}):
    print(f"  {path}: not ({expr}); flows = {d.get('flows')}, exit_code = {d.get('exit_code')}", file=sys.stderr)
    sys.exit(1)
EOF
}

# Polls (bounded) until a command succeeds: poll SECONDS COMMAND...
poll() {
    local limit="$1"
    shift
    local deadline=$((SECONDS + limit))
    until "$@"; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.25
    done
}

# python3 reads the results; the k8s manifest check needs PyYAML too (Debian's python3-yaml
# comes with docker-compose).
PY=""
for p in python3 /usr/bin/python3; do
    if command -v "$p" >/dev/null && "$p" -c 'import yaml' 2>/dev/null; then PY="$p"; break; fi
done
[ -n "$PY" ] || PY=python3
command -v "$PY" >/dev/null || { echo "[docker-tests] python3 is needed to read the results" >&2; exit 1; }
timeout 30 docker info >/dev/null 2>&1 || { echo "[docker-tests] the docker engine does not answer" >&2; exit 1; }

# --- the image -------------------------------------------------------------------------------
if [ "${SKIP_BUILD:-0}" = 1 ]; then
    say "SKIP_BUILD=1: testing the existing $IMAGE"
else
    say "building $IMAGE by the local path (dockerfiles/build-local.sh)"
    if ! bash dockerfiles/build-local.sh "$IMAGE" >"$WORK/build.log" 2>&1; then
        tail -n 40 "$WORK/build.log" >&2
        bad "image builds (log above)"
        echo "[docker-tests] $PASSED passed, $FAILED failed"
        exit 1
    fi
    ok "image builds: $IMAGE"
fi
timeout 30 docker image inspect "$IMAGE" >/dev/null 2>&1 || { bad "image $IMAGE exists"; exit 1; }
docker image ls "$IMAGE"

size="$(docker image inspect -f '{{.Size}}' "$IMAGE")"
check "image size $((size / 1000)) kB < 25 MB" test "$size" -lt 25000000

help_out="$(timeout 30 docker run --rm "$IMAGE" --help 2>&1)"
help_rc=$?
printf '%s\n' "$help_out" | head -n 3
check "docker run --rm IMAGE --help exits 0 with usage" \
    bash -c '[ "$1" = 0 ] && grep -q "^Usage: load-tester" <<<"$2"' _ "$help_rc" "$help_out"

id_out="$(timeout 30 docker run --rm --entrypoint '' "$IMAGE" id 2>&1)"
id_rc=$?
say "docker run --rm --entrypoint '' IMAGE id → exit $id_rc: $(printf '%s' "$id_out" | grep -o 'exec: "id"[^:]*: [^:]*' | head -n1)"
check "no \`id\` (nor any other program) in the image" \
    bash -c '[ "$1" != 0 ] && grep -q "executable file not found" <<<"$2"' _ "$id_rc" "$id_out"

user="$(docker image inspect -f '{{.Config.User}}' "$IMAGE")"
check "image user is 65532:65532 (got '$user')" test "$user" = "65532:65532"
check "OCI labels present" bash -c \
    '[ -n "$(docker image inspect -f "{{index .Config.Labels \"org.opencontainers.image.title\"}}" "$1")" ]' _ "$IMAGE"

# --- mock + load tester on a private network ------------------------------------------------
NET="$ID-net"
timeout 30 docker network create "$NET" >/dev/null && NETWORKS+=("$NET")
MOCK="$ID-mock"
# One mock container answers as both `backend` (8000) and `auth` (8081).
timeout 60 docker run -d --name "$MOCK" --network "$NET" --network-alias backend --network-alias auth \
    -e JWT_SECRET_KEY=docker-test-only "$IMAGE" mock --listen 0.0.0.0:8000,0.0.0.0:8081 >/dev/null \
    && CONTAINERS+=("$MOCK")
RUN="$ID-run"
CONTAINERS+=("$RUN")
# As Kubernetes runs it (readOnlyRootFilesystem, no capabilities): only /app/results is written.
timeout 120 docker run --name "$RUN" --network "$NET" \
    --read-only --cap-drop ALL --security-opt no-new-privileges -v /app/results \
    -e MAX_USERS=4 -e SPAWN_RATE=4 -e RUN_TIME=10s -e LOAD_TESTER_PROGRESS_INTERVAL=5s \
    "$IMAGE" >"$WORK/run.log" 2>&1
rc=$?
grep -E '^(flows|verdict):' "$WORK/run.log"
check "load tester against the mock container (read-only root, no capabilities): exit 0 (got $rc)" test "$rc" = 0
mkdir -p "$WORK/run" && timeout 60 docker cp "$RUN:/app/results/." "$WORK/run/" >/dev/null 2>&1
check "results.json and summary.txt written to /app/results" \
    bash -c '[ -s "$1/results.json" ] && [ -s "$1/summary.txt" ]' _ "$WORK/run"
check "results: flows passed > 0, failed 0" \
    json_check "$WORK/run/results.json" "d['flows']['passed'] > 0 and d['flows']['failed'] == 0 and d['exit_code'] == 0"

# --- the probe CronJob's container (dockerfiles/k8s/load-tester-probe-cronjob.yaml) as the
# manifest runs it, pointed at the mock container, its spacing shortened for the test ----------
mapfile -t PROBE_ARGS < <("$PY" - dockerfiles/k8s/load-tester-probe-cronjob.yaml <<'EOF'
import sys, yaml
d = next(x for x in yaml.safe_load_all(open(sys.argv[1])) if x)
spec = d["spec"]
assert d["kind"] == "CronJob" and spec["concurrencyPolicy"] == "Forbid"
assert spec["jobTemplate"]["spec"]["backoffLimit"] == 0
pod = spec["jobTemplate"]["spec"]["template"]["spec"]
assert pod["restartPolicy"] == "Never" and pod["securityContext"]["runAsNonRoot"]
args = list(pod["containers"][0]["args"])
assert args[0] == "probe"
args[args.index("--every") + 1] = "1s"
print("\n".join(args))
EOF
)
check "k8s probe CronJob: Forbid, no retries, non-root, runs probe (${#PROBE_ARGS[@]} args)" test "${#PROBE_ARGS[@]}" -gt 1
timeout 120 docker run --rm --network "$NET" --read-only --cap-drop ALL -e TARGET_URL=http://backend:8000 \
    -e AUTH_URL=http://auth:8081 "$IMAGE" "${PROBE_ARGS[@]}" >"$WORK/probe.log" 2>&1
rc=$?
grep -E '^(pass|probe|verdict)' "$WORK/probe.log" | head -n 6
check "k8s probe CronJob's args against the mock container: exit 0 (got $rc), a line per pass" \
    bash -c '[ "$1" = 0 ] && [ "$(grep -c "^pass " "$2")" = 3 ]' _ "$rc" "$WORK/probe.log"
timeout 120 docker run --rm --network "$NET" --read-only --cap-drop ALL -e TARGET_URL=http://backend:8000 \
    -e AUTH_URL=http://auth:8081 "$IMAGE" "${PROBE_ARGS[@]}" --threshold 'chat.agent_started.p95 < 1us' \
    >"$WORK/probe-breach.log" 2>&1
rc=$?
check "the same probe with a threshold it cannot meet: exit 4 (got $rc)" test "$rc" = 4

# --- --processes in the container: children of PID 1, partial results in the image's /tmp ----
PROC="$ID-processes"
CONTAINERS+=("$PROC")
timeout 120 docker run --name "$PROC" --network "$NET" \
    -e LOAD_TESTER_PROCESSES=2 -e MAX_USERS=4 -e SPAWN_RATE=4 -e LOAD_TESTER_ITERATIONS=3 -e RUN_TIME=60s "$IMAGE" \
    >"$WORK/processes.log" 2>&1
rc=$?
grep -E '^(flows|verdict|error):' "$WORK/processes.log"
check "LOAD_TESTER_PROCESSES=2: exit 0 (got $rc)" test "$rc" = 0
mkdir -p "$WORK/processes" && timeout 60 docker cp "$PROC:/app/results/." "$WORK/processes/" >/dev/null 2>&1
check "LOAD_TESTER_PROCESSES=2: 4 users × 3 iterations = 12 flows, all passed" \
    json_check "$WORK/processes/results.json" "d['flows']['passed'] == 12 and d['flows']['started'] == 12"

# --- the target never comes up: exit 3 and a clear message ----------------------------------
timeout 60 docker run --rm --network none -e LOAD_TESTER_WAIT_FOR_TARGET=3s "$IMAGE" >"$WORK/down.log" 2>&1
rc=$?
grep -E '^error' "$WORK/down.log"
check "unreachable target: exit 3 with 'target not up' (got $rc)" \
    bash -c '[ "$1" = 3 ] && grep -q "error: target not up" "$2"' _ "$rc" "$WORK/down.log"

# --- docker stop mid-run ---------------------------------------------------------------------
# The mock paces events 1 s apart (a flow takes ~6 s), so flows are in flight at the stop; the
# image's LOAD_TESTER_GRACEFUL_STOP (3 s) must end the container well within docker stop's 10 s.
SMOCK="$ID-slow-mock"
SNET="$ID-stop-net"
timeout 30 docker network create "$SNET" >/dev/null && NETWORKS+=("$SNET")
timeout 60 docker run -d --name "$SMOCK" --network "$SNET" --network-alias backend --network-alias auth \
    -e JWT_SECRET_KEY=docker-test-only "$IMAGE" mock --listen 0.0.0.0:8000,0.0.0.0:8081 --delay 1s \
    >/dev/null && CONTAINERS+=("$SMOCK")
STOP="$ID-stop"
CONTAINERS+=("$STOP")
timeout 60 docker run -d --name "$STOP" --network "$SNET" \
    -e MAX_USERS=6 -e SPAWN_RATE=3 -e RUN_TIME=5m -e LOAD_TESTER_PROGRESS_INTERVAL=1s "$IMAGE" >/dev/null
flows_done() { timeout 10 docker logs "$STOP" 2>&1 | grep '^progress ' | grep -qv ' flows=0 '; }
if poll 60 flows_done; then
    ok "run under way with finished flows"
else
    bad "no finished flows within 60 s"
    timeout 10 docker logs "$STOP" 2>&1 | tail -n 20 >&2
fi
pid="$(docker inspect -f '{{.State.Pid}}' "$STOP")"
say "docker top: $(timeout 10 docker top "$STOP" -eo pid,uid,args | tail -n +2 | tr -s ' ')"
uid_line="$(grep '^Uid:' "/proc/$pid/status" 2>/dev/null | tr -s '\t ' ' ')"
say "/proc/$pid/status $uid_line"
check "the process runs as uid 65532 (real, effective, saved, fs)" test "$uid_line" = "Uid: 65532 65532 65532 65532"
started=$(date +%s%N)
timeout 30 docker stop "$STOP" >/dev/null
ended=$(date +%s%N)
took_ms=$(((ended - started) / 1000000))
state="$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$STOP")"
say "docker stop took ${took_ms} ms; container state: $state"
check "docker stop: container gone within 5 s (${took_ms} ms)" test "$took_ms" -lt 5000
check "docker stop: exited, not killed (state '$state')" bash -c '[[ "$1" == exited\ [0-3] ]]' _ "$state"
timeout 10 docker logs "$STOP" 2>"$WORK/stop.err" >"$WORK/stop.out"
grep -E '^flows:' "$WORK/stop.out"
mkdir -p "$WORK/stop" && timeout 60 docker cp "$STOP:/app/results/." "$WORK/stop/" >/dev/null 2>&1
check "docker stop: results written" test -s "$WORK/stop/results.json"
summary_flows="$(sed -n 's/^flows: \([0-9]*\) passed, \([0-9]*\) failed, \([0-9]*\) interrupted.*/\1 \2 \3/p' "$WORK/stop.out")"
check "docker stop: results' flows == the printed summary's ($summary_flows passed/failed/interrupted)" \
    json_check "$WORK/stop/results.json" \
    "'$summary_flows' != '' and '%d %d %d' % (d['flows']['passed'], d['flows']['failed'], d['flows']['interrupted']) == '$summary_flows' and d['flows']['passed'] > 0"

# --- compose ---------------------------------------------------------------------------------
if [ ${#COMPOSE[@]} = 0 ]; then
    bad "no compose tool (neither \`docker compose\` nor docker-compose)"
else
    say "compose tool: ${COMPOSE[*]} ($("${COMPOSE[@]}" version --short 2>/dev/null || true))"
    P1="${ID}single"
    PROJECTS+=("$P1")
    # A short run: the file's defaults (150 users, 3600 s) overridden from the shell.
    # With the README's gates recipe: thresholds, JUnit and HTML from the environment.
    (
        unset LOAD_TESTER_ITERATIONS LOAD_TESTER_SHARD LOAD_TESTER_SHARD_COUNT
        LOAD_TESTER_THRESHOLD='chat.agent_completed.p95 < 10s; flows.failed_rate < 1%' \
        LOAD_TESTER_JUNIT=/app/results/junit.xml LOAD_TESTER_HTML=/app/results/report.html \
        RUN_TIME=10 MAX_USERS=6 SPAWN_RATE=6 compose "$P1" --profile testing \
            up --abort-on-container-exit --exit-code-from load-tester
    ) >"$WORK/compose.log" 2>&1
    rc=$?
    grep -E 'flows:|verdict:' "$WORK/compose.log"
    check "compose --profile testing up --abort-on-container-exit --exit-code-from load-tester: exit 0 (got $rc)" test "$rc" = 0
    [ "$rc" = 0 ] || tail -n 30 "$WORK/compose.log" >&2
    fetch_volume "${P1}_staging-load-test-results" "$WORK/compose" >/dev/null 2>&1
    check "compose: results.json in the volume, flows passed > 0, failed 0" \
        json_check "$WORK/compose/results.json" "d['flows']['passed'] > 0 and d['flows']['failed'] == 0"
    check "compose: both thresholds from LOAD_TESTER_THRESHOLD judged, and passed" \
        json_check "$WORK/compose/results.json" "len(d['thresholds']) == 2 and all(t['passed'] for t in d['thresholds'])"
    check "compose: junit.xml and report.html from LOAD_TESTER_JUNIT / LOAD_TESTER_HTML in the volume" \
        bash -c '[ -s "$1/junit.xml" ] && [ -s "$1/report.html" ]' _ "$WORK/compose"
    compose "$P1" --profile testing down -v >/dev/null 2>&1
    # The same line with a threshold that cannot be met: compose's exit code is 4.
    (
        unset LOAD_TESTER_ITERATIONS LOAD_TESTER_SHARD LOAD_TESTER_SHARD_COUNT
        LOAD_TESTER_THRESHOLD='chat.agent_started.p95 < 1us' RUN_TIME=3 MAX_USERS=2 SPAWN_RATE=2 \
            compose "$P1" --profile testing up --abort-on-container-exit --exit-code-from load-tester
    ) >"$WORK/compose-breach.log" 2>&1
    rc=$?
    check "compose with LOAD_TESTER_THRESHOLD it cannot meet: exit 4 (got $rc)" test "$rc" = 4
    compose "$P1" --profile testing down -v >/dev/null 2>&1

    # 3 generators, 30 users, 2 iterations each: exactly 60 flows in all, 20 per shard.
    P3="${ID}shards"
    PROJECTS+=("$P3")
    LOAD_TESTER_SHARD=auto LOAD_TESTER_SHARD_COUNT=3 MAX_USERS=30 SPAWN_RATE=30 LOAD_TESTER_ITERATIONS=2 RUN_TIME=120 \
        compose "$P3" --profile testing up -d --scale load-tester=3 >"$WORK/shards.log" 2>&1
    rc=$?
    [ "$rc" = 0 ] || tail -n 30 "$WORK/shards.log" >&2
    check "compose up --scale load-tester=3 (exit $rc)" test "$rc" = 0
    ids="$(compose "$P3" --profile testing ps -q load-tester)"
    check "three load-tester containers" test "$(wc -w <<<"$ids")" = 3
    # shellcheck disable=SC2086
    codes="$(timeout 180 docker wait $ids | tr '\n' ' ')"
    say "shard exit codes: $codes"
    check "every shard exits 0" test "$codes" = "0 0 0 "
    for c in $ids; do timeout 10 docker logs "$c" 2>&1 | grep -E '^(running|flows:)'; done
    VOL3="${P3}_staging-load-test-results"
    timeout 60 docker run --rm -v "$VOL3:/app/results" "$IMAGE" merge \
        /app/results/results-shard-1-of-3.json /app/results/results-shard-2-of-3.json \
        /app/results/results-shard-3-of-3.json --out /app/results/merged.json >"$WORK/merge.log" 2>&1
    rc=$?
    grep -E '^(merged|flows:|verdict:)' "$WORK/merge.log"
    check "merge: exit 0 (got $rc)" test "$rc" = 0
    fetch_volume "$VOL3" "$WORK/shards" >/dev/null 2>&1
    "$PY" - "$WORK/shards" <<'EOF'
import json, sys, os
d = sys.argv[1]
shards = [json.load(open(os.path.join(d, f"results-shard-{i}-of-3.json"))) for i in (1, 2, 3)]
merged = json.load(open(os.path.join(d, "merged.json")))
per = [s["flows"]["passed"] + s["flows"]["failed"] + s["flows"]["interrupted"] for s in shards]
total = merged["flows"]["passed"] + merged["flows"]["failed"] + merged["flows"]["interrupted"]
print(f"[docker-tests] shards: users {[s['load']['users'] for s in shards]}, flows {per} (sum {sum(per)}); merged: {total} flows, {merged['flows']['passed']} passed, {merged['generators']} generators")
EOF
    check "shards: users 10+10+10, shards 1/3 2/3 3/3" "$PY" - "$WORK/shards" <<'EOF'
import json, sys, os
d = sys.argv[1]
shards = [json.load(open(os.path.join(d, f"results-shard-{i}-of-3.json"))) for i in (1, 2, 3)]
sys.exit(0 if [s["load"]["users"] for s in shards] == [10, 10, 10] and sorted(s["shard"] for s in shards) == ["1/3", "2/3", "3/3"] else 1)
EOF
    check "merged total == sum of shards == 60 (30 users × 2 iterations), all passed" "$PY" - "$WORK/shards" <<'EOF'
import json, sys, os
d = sys.argv[1]
shards = [json.load(open(os.path.join(d, f"results-shard-{i}-of-3.json"))) for i in (1, 2, 3)]
merged = json.load(open(os.path.join(d, "merged.json")))
flows = lambda s: s["flows"]["passed"] + s["flows"]["failed"] + s["flows"]["interrupted"]
ok = (sum(flows(s) for s in shards) == flows(merged) == 60
      and merged["flows"]["passed"] == 60 and merged["generators"] == 3 and merged["exit_code"] == 0)
sys.exit(0 if ok else 1)
EOF
    compose "$P3" --profile testing down -v >/dev/null 2>&1
fi

# --- the Kubernetes manifests (no cluster here: their shape only) ------------------------------
check "k8s: Indexed Job with LOAD_TESTER_SHARD_COUNT == completions == parallelism; merge pod lists every shard" \
    "$PY" - dockerfiles/k8s/load-tester-job.yaml dockerfiles/k8s/load-tester-merge.yaml <<'EOF'
import sys, yaml
docs = [d for f in sys.argv[1:] for d in yaml.safe_load_all(open(f)) if d]
job = next(d for d in docs if d.get("kind") == "Job")
pod = next(d for d in docs if d.get("kind") == "Pod")
spec = job["spec"]
c = spec["template"]["spec"]["containers"][0]
env = {e["name"]: e.get("value") for e in c.get("env", [])}
n = spec["completions"]
files = [f"/app/results/results-shard-{i}-of-{n}.json" for i in range(1, n + 1)]
ok = (spec.get("completionMode") == "Indexed" and n == spec["parallelism"]
      and env.get("LOAD_TESTER_SHARD_COUNT") == str(n) and "LOAD_TESTER_SHARD" not in env
      and spec["template"]["spec"]["restartPolicy"] == "Never"
      and pod["spec"]["containers"][0]["args"] == ["merge", *files, "--out", "/app/results/merged.json"])
sys.exit(0 if ok else 1)
EOF

echo "[docker-tests] summary:"
echo "docker-image-tests: $PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
