// Package monitoring holds vectord's Prometheus rules (alerts.yml: the
// alerts and the recording rule behind BackupTooOld, with promtool unit
// tests in alerts_test.yml) and its Grafana dashboard
// (grafana-dashboard.json). It has no Go API. Its tests check and run the
// rules with promtool, check that every metric the rules and the dashboard
// query is one vectord exposes and that the README's runbook covers every
// alert, and run every dashboard query against a real Prometheus scraping
// a real vectord daemon (live_test.go).
package monitoring
