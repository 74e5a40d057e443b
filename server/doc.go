// Package server is vectord's HTTP side: Prometheus metrics, health checks
// and the control API that starts backups and reports their jobs, plus the
// Client the command line uses to talk to a running daemon.
//
// # Routes
//
//	GET  /metrics                 Prometheus text format, from Options.Gatherer
//	GET  /healthz                 200 while the process serves
//	GET  /readyz                  200 once Options.Ready reports true, else 503
//	GET  /api/v1/backups?site=&env=   catalog records as a JSON array, newest first ([] when none)
//	POST /api/v1/backups          {"site","environment","reason","trigger"} → 202 {"job_id"}
//	GET  /api/v1/jobs/{job_id}    {"job_id","state","backup_id","error"}
//
// HEAD is answered wherever GET is. Answers of /api/v1 are JSON; an error is
// {"error":"..."} with a status that says what went wrong: 400 a malformed
// request (bad JSON, an unknown field or query parameter, a refused
// trigger, a malformed name in a query), 401 a missing or wrong token (with
// WWW-Authenticate: Bearer), 403 a cross-origin browser request or a
// request for a host that is not loopback while no token is configured, 404
// an unknown site, environment, job or path, 405 a wrong method (with
// Allow), 413 a body over 64 KiB, 503 a daemon that cannot take the job now,
// 500 anything else.
//
// # Starting a backup
//
// The POST body's "site" is required. "environment" may be left out: the
// Jobs implementation then picks the site's only environment, else its
// development one, as the command line does. "trigger" defaults to
// "manual"; "pre-import" is accepted too, so that a restore run against a
// daemon can ask it for the safety snapshot. "schedule" is refused: only
// the daemon's scheduler starts scheduled backups, and retention treats
// them differently. Names and reason must not hold control characters.
//
// # Security
//
// Whenever a control token is configured, every /api/v1 request must carry
// Authorization: Bearer <token>; the token is compared in constant time and
// never logged (nor is the Authorization header). New refuses to serve the
// control API without a token on an address other hosts can reach. Without
// a token (loopback only), /api/v1 answers only requests whose Host header
// names a loopback host, so a web page cannot reach it through DNS
// rebinding. Cross-origin browser requests that change state are refused in
// every case. /metrics, /healthz and /readyz never require the token and
// expose no secrets.
package server
