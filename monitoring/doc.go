// Package monitoring holds vectord's Prometheus alert rules (alerts.yml,
// with promtool unit tests in alerts_test.yml) and its Grafana dashboard
// (grafana-dashboard.json). It has no Go API: its tests check the rules with
// promtool and check that every metric the rules and the dashboard query is
// one vectord exposes.
package monitoring
