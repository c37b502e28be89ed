-- tests/bench/http_run.lua - wrk's requests for make bench's HTTP figures:
-- every request is POST /v1/run with one job, the body from the
-- environment (TINCAN_BENCH_BODY), so the bench chooses the guest.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = os.getenv("TINCAN_BENCH_BODY")
