// Package scheduler decides when each configured environment is backed up:
// cron schedules in the environment's time zone, shifted by a stable
// per-environment jitter so a fleet does not export at the same second.
package scheduler
