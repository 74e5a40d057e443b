package e2e

import (
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
)

// contractFamilies is CONTRACT §8: every metric family vectord exposes and
// its type (a copy of wantMetrics in metrics/metrics_test.go).
var contractFamilies = map[string]dto.MetricType{
	"vectord_backup_runs_total":                     dto.MetricType_COUNTER,
	"vectord_backup_failures_total":                 dto.MetricType_COUNTER,
	"vectord_backup_last_success_timestamp_seconds": dto.MetricType_GAUGE,
	"vectord_backup_last_failure_timestamp_seconds": dto.MetricType_GAUGE,
	"vectord_backup_last_size_bytes":                dto.MetricType_GAUGE,
	"vectord_backup_last_duration_seconds":          dto.MetricType_GAUGE,
	"vectord_backup_next_run_timestamp_seconds":     dto.MetricType_GAUGE,
	"vectord_backup_expected_interval_seconds":      dto.MetricType_GAUGE,
	"vectord_backup_phase_duration_seconds":         dto.MetricType_HISTOGRAM,
	"vectord_download_url_remaining_seconds":        dto.MetricType_HISTOGRAM,
	"vectord_backups_stored":                        dto.MetricType_GAUGE,
	"vectord_backup_stored_bytes":                   dto.MetricType_GAUGE,
	"vectord_retention_deleted_total":               dto.MetricType_COUNTER,
	"vectord_retention_delete_errors_total":         dto.MetricType_COUNTER,
	"vectord_api_requests_total":                    dto.MetricType_COUNTER,
	"vectord_jobs_running":                          dto.MetricType_GAUGE,
	"vectord_jobs_queued":                           dto.MetricType_GAUGE,
	"vectord_build_info":                            dto.MetricType_GAUGE,
}

// missingFamilies names the CONTRACT §8 families a scrape lacks or exposes
// with the wrong TYPE line. client_golang leaves out a labelled family
// until its first series exists, so a scrape holds them all only after a
// success, a failure, a retention delete and a failed delete.
func missingFamilies(fs families) []string {
	var missing []string
	for name, typ := range contractFamilies {
		switch mf := fs[name]; {
		case mf == nil:
			missing = append(missing, name+" (absent)")
		case mf.GetType() != typ:
			missing = append(missing, name+" (# TYPE "+strings.ToLower(mf.GetType().String())+", want "+strings.ToLower(typ.String())+")")
		}
	}
	slices.Sort(missing)
	return missing
}
