-- bench/new_event.lua: wrk script for the HTTP ingest benchmark (bench/run).
-- Every request is POST /api/v1/new_event?message=... with an empty body (Content-Length: 0),
-- on keep-alive connections: the message travels in the query string, as system-api's curl
-- examples send it. The agent fdatasyncs the event log before each 200 (concurrent requests
-- share one sync), so this measures durable ingest, not parsing.
wrk.method = "POST"
wrk.body = ""
