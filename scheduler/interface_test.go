package scheduler_test

import (
	"github.com/builtfast/vectord/exporter"
	"github.com/builtfast/vectord/metrics"
	"github.com/builtfast/vectord/scheduler"
)

// The scheduler is the exporter's gate, and the metrics are its observer.
var (
	_ exporter.Gate      = (*scheduler.Scheduler)(nil)
	_ scheduler.Observer = (*metrics.Metrics)(nil)
)
