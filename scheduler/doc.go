// Package scheduler decides when each configured environment is backed up
// and admits the work of backup jobs under the API's limits.
//
// # Schedules
//
// Each environment runs on its cron schedule, evaluated in its time zone
// and delayed by a stable per-environment jitter (Offset), so a fleet does
// not export at the same second and a restart does not move anyone's run.
// An environment never has two jobs at once: a run that falls due while the
// environment's previous job still waits or runs is skipped (and logged),
// not piled up. At start, and for environments added by Reload, one
// catch-up job is queued for each environment that missed a run while the
// daemon was down.
//
// # The queue
//
// Jobs wait in one queue: resumed jobs (an export an earlier daemon already
// requested) first, then manual and pre-import jobs, then scheduled ones,
// first come first served within each. A manual request for an environment
// whose scheduled job is still waiting takes that job over instead of
// queuing a second one; one for an environment whose job is running waits
// behind it. A job starts when its export request is admitted, so the
// number of jobs running stays small while the queue holds a whole fleet.
//
// # Admission
//
// Two gates, which the exporter calls through its Gate interface:
//
// Export admits database operations (export, and import, requests). The
// budget of B operations an hour (api.db_operations_per_hour) is spent as
// a token bucket that holds Burst(B) requests (a fifth of B, at least one)
// and refills one every AdmissionInterval(B) = BudgetWindow/B, where
// BudgetWindow is an hour and a minute; in addition no more than B
// admissions ever fall within one BudgetWindow. So after a quiet spell
// Burst(B) requests go at once, and a wave of due jobs is then admitted
// steadily, one every 6m6s for the default B = 10; never more than B in any
// hour (the minute's margin absorbs network delays), so an API whose own
// limit is B is never asked beyond it; and a manual job arriving in the
// middle of a wave waits about one interval, not for the wave to end. At
// most concurrency.exports admissions are held at once (until release).
//
// Download admits concurrency.downloads downloads at once, earliest URL
// expiry first. The gates are independent: a long download never holds up
// the next export request, and a queue of exports never holds up a
// completed export's download.
//
// # Lifecycle
//
// New validates and starts nothing. Run runs the schedules until its
// context ends; Shutdown stops admitting jobs, waits for the running ones,
// and cancels them when its own context ends. Status and Wait report jobs
// for the control API.
package scheduler
