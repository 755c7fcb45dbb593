-- wrk script: POST one chat completion per request. gateway_bench.py replaces BODY with a Lua string literal.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = BODY
