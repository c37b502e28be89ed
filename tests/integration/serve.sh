#!/usr/bin/env bash
# tests/integration/serve.sh - tincan serve end to end (serve_test.py: real
# clients against servers it starts on free loopback ports and stops), then
# the playground in headless Chromium (playground.mjs) where the browser and
# playwright-core are installed (tests/package.json; scripts/install-deps).
# On the host, serve_test.py also runs against serve --redis
# (TINCAN_TEST_REDIS=1). Env: BUILD, TINCAN_TEST_BACKEND (emu: every job on
# the emulator), TINCAN_TEST_FILTER. Exits 1 on a failure.
set -u
BUILD=${BUILD:-build}
export BUILD
fail=0
python3 tests/integration/serve_test.py || fail=1
# serve --redis: the same clients against a redis-server the script starts
# and workers of its own; on the host (from tests/run-unit), as the fleet's
# other tests run.
if [ "${TINCAN_TEST_BACKEND:-}" = emu ]; then
    TINCAN_TEST_REDIS=1 python3 tests/integration/serve_test.py || fail=1
fi
# The page is the same whatever runs the jobs: one browser run, on the host
# (TINCAN_TEST_BACKEND=emu, from tests/run-unit), not under TCG in the lane.
if [ "${TINCAN_TEST_BACKEND:-}" = emu ] && [ -z "${TINCAN_TEST_FILTER:-}" ]; then
    node tests/integration/playground.mjs || fail=1
fi
exit $fail
