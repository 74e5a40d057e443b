// Package server is vectord's HTTP side: Prometheus metrics, health checks
// and the control API that lists the catalog, starts backups, reports their
// jobs and administers the catalog for the command line while the daemon
// holds it, plus the Client the command line uses to talk to a running
// daemon.
//
// # Routes
//
//	GET    /metrics                   Prometheus text format, from Options.Gatherer
//	GET    /healthz                   200 while the process serves
//	GET    /readyz                    200 once Options.Ready reports true; 503 before, and once Server.SetDraining was called
//	GET    /api/v1/backups?site=&env=&limit=&after=
//	                                  one page of catalog records as a JSON array, newest first ([] when none)
//	POST   /api/v1/backups            {"site","environment","reason","trigger"} → 202 {"job_id"}
//	GET    /api/v1/jobs/{job_id}      {"job_id","state","backup_id","error"}
//	GET    /api/v1/backups/{id}       one catalog record; {id} may be any unique prefix of its id
//	DELETE /api/v1/backups/{id}       forget the backup now → 200 {"id"} (its full id)
//	PUT    /api/v1/backups/{id}/pin   pin it → 204
//	DELETE /api/v1/backups/{id}/pin   unpin it → 204
//	POST   /api/v1/prune              {"dry_run"} → 200 with the retention report (JSON)
//	POST   /api/v1/check              {"repair","read_data"} → 200 {"ok","report"}
//
// The last five are Options.Admin's; without one they answer 501. HEAD is
// answered wherever GET is. Answers of /api/v1 are JSON; an error is
// {"error":"..."} with a status that says what went wrong: 400 a malformed
// request (bad JSON, an unknown field or query parameter, a refused
// trigger, a malformed name, id or limit, a pinned backup to forget), 401 a
// missing or wrong token (with WWW-Authenticate: Bearer), 403 a
// cross-origin browser request or a request for a host that is not
// loopback while no token is configured, 404 an unknown site, environment,
// job, backup or path, 405 a wrong method (with Allow), 409 an id prefix
// that matches several backups (the message names them), 413 a body over
// 64 KiB, 501 an operation this daemon does not offer, 503 a daemon that
// cannot take the job now, 500 anything else (with the error's text).
//
// # Listing backups
//
// GET /api/v1/backups answers a page: at most limit records (1 to
// MaxPageSize; default catalog.DefaultPageSize, 1000) after the backup
// whose id is after, newest first by id. When more follow, a header
// Link: </api/v1/backups?site=S&env=E&after=NEXT&limit=N>; rel="next"
// points at the next page (site and env only when given). The body stays
// a JSON array, and is written as it is encoded: the daemon never holds
// more than one page of records, whatever the catalog's size. Client.Backups
// follows every page; Client.BackupsPage reads one.
//
// # Catalog administration
//
// bbolt lets one process write the catalog, so `vectord forget`, `pin`,
// `prune` and `check` beside a running daemon ask it through the Admin
// routes. The server resolves {id} with Backups.Resolve first, so Admin
// sees full ids. Prune's and check's bodies refuse unknown fields, so that
// a misspelt "dry_run" never prunes for real. These routes may run longer
// than the server's write timeout, which they lift; the client's going
// away cancels them.
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
