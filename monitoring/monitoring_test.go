package monitoring

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"gopkg.in/yaml.v3"

	"github.com/builtfast/vectord/metrics"
)

const (
	rulesFile     = "alerts.yml"
	ruleTestsFile = "alerts_test.yml"
	dashboardFile = "grafana-dashboard.json"
	runbookBase   = "https://github.com/builtfast/vectord/blob/main/README.md#runbook-"
)

// wantAlerts are the alerts users are promised; the README's runbook has a
// section for each.
var wantAlerts = []string{
	"APIBudgetExhausted",
	"APITokenRejected",
	"ArchiveBehind",
	"ArchiveUploadFailing",
	"BackupFailing",
	"BackupNeverSucceeded",
	"BackupSizeDropped",
	"BackupTooOld",
	"ConfigReloadFailed",
	"DownloadURLMarginLow",
	"RetentionDeleteErrors",
	"ScheduledRunsSkipped",
	"VectordCrashLooping",
	"VectordDown",
}

// vectordJob matches the job names the rules take for vectord's (the
// VectordDown and VectordCrashLooping matchers).
var vectordJob = regexp.MustCompile(`^.*vectord.*$`)

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []rule `yaml:"rules"`
	} `yaml:"groups"`
}

type rule struct {
	Alert       string            `yaml:"alert"`
	Record      string            `yaml:"record"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

type ruleTestFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		Interval    string `yaml:"interval"`
		InputSeries []struct {
			Series string `yaml:"series"`
		} `yaml:"input_series"`
		PromQLExprTest []struct {
			Expr string `yaml:"expr"`
		} `yaml:"promql_expr_test"`
		AlertRuleTest []struct {
			EvalTime  string `yaml:"eval_time"`
			Alertname string `yaml:"alertname"`
			ExpAlerts []struct {
				ExpLabels map[string]string `yaml:"exp_labels"`
			} `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

// TestPromtool checks and unit-tests the rules with promtool. In CI (CI set)
// a missing promtool is a failure, elsewhere a skip.
func TestPromtool(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		const install = "promtool is not on PATH; install it with: apt-get install -y prometheus (Debian/Ubuntu), or from https://prometheus.io/download/"
		if os.Getenv("CI") != "" {
			t.Fatal(install)
		}
		t.Skip(install)
	}
	run := func(t *testing.T, args ...string) {
		t.Helper()
		out, err := exec.CommandContext(t.Context(), promtool, args...).CombinedOutput()
		if err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	t.Run("check rules", func(t *testing.T) { run(t, "check", "rules", rulesFile) })
	// promtool test rules alerts_test.yml, one test group at a time, in
	// parallel: the groups that span a day take seconds each.
	t.Run("test rules", func(t *testing.T) {
		for i, file := range splitRuleTests(t) {
			t.Run(fmt.Sprintf("group %d", i+1), func(t *testing.T) {
				t.Parallel()
				run(t, "test", "rules", file)
			})
		}
	})
}

// splitRuleTests writes each test group of alerts_test.yml, with the
// file's other settings, to a file of its own, and returns their paths.
func splitRuleTests(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(ruleTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", ruleTestsFile, err)
	}
	groups, _ := doc["tests"].([]any)
	if len(groups) == 0 {
		t.Fatalf("%s has no tests", ruleTestsFile)
	}
	files, _ := doc["rule_files"].([]any)
	for i, f := range files {
		abs, err := filepath.Abs(fmt.Sprint(f))
		if err != nil {
			t.Fatal(err)
		}
		files[i] = abs
	}
	dir := t.TempDir()
	var paths []string
	for i, g := range groups {
		doc["tests"] = []any{g}
		out, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, fmt.Sprintf("group-%02d.yml", i+1))
		if err := os.WriteFile(path, out, 0o600); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	var names []string
	severities := make(map[string][]string)
	for _, r := range rules {
		if r.Alert == "" {
			continue
		}
		// Two rules may share an alert name only to give it two severities
		// (VectordDown: a warning, critical once backups are overdue).
		if slices.Contains(severities[r.Alert], r.Labels["severity"]) {
			t.Errorf("%s: two rules with severity %q", r.Alert, r.Labels["severity"])
		}
		severities[r.Alert] = append(severities[r.Alert], r.Labels["severity"])
		if !slices.Contains(names, r.Alert) {
			names = append(names, r.Alert)
		}
		t.Run(r.Alert+"/"+r.Labels["severity"], func(t *testing.T) {
			if _, err := time.ParseDuration(r.For); err != nil && r.For != "0" {
				t.Errorf("for = %q, want a duration", r.For)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("severity = %q, want critical or warning", s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("annotation %s is empty", a)
				}
			}
			if got, want := r.Annotations["runbook_url"], runbookBase+strings.ToLower(r.Alert); got != want {
				t.Errorf("runbook_url = %q, want %q", got, want)
			}
		})
	}
	slices.Sort(names)
	if diff := cmp.Diff(wantAlerts, names); diff != "" {
		t.Errorf("alerts in %s (-want +got):\n%s", rulesFile, diff)
	}
}

// TestRunbook checks that the README's runbook has a section for every
// alert, where its runbook_url points (GitHub's anchor for the heading
// "#### Runbook: Name" is "runbook-name"), and none for an alert that no
// longer exists.
func TestRunbook(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	for _, m := range regexp.MustCompile(`(?m)^#### Runbook: (\S+)\s*$`).FindAllStringSubmatch(string(data), -1) {
		sections = append(sections, m[1])
	}
	slices.Sort(sections)
	if diff := cmp.Diff(wantAlerts, sections); diff != "" {
		t.Errorf("README.md runbook sections (-alerts +sections):\n%s", diff)
	}
}

// TestRecordingRules checks that every recording rule follows the
// level:metric naming convention under the vectord: prefix, and that
// alerts_test.yml tests its value.
func TestRecordingRules(t *testing.T) {
	tf := loadRuleTests(t)
	for _, r := range loadRules(t) {
		if r.Record == "" {
			continue
		}
		if !strings.HasPrefix(r.Record, "vectord:") {
			t.Errorf("recording rule %s: want a name starting vectord:", r.Record)
		}
		tested := false
		for _, g := range tf.Tests {
			for _, e := range g.PromQLExprTest {
				tested = tested || slices.Contains(metricNames(e.Expr), r.Record)
			}
		}
		if !tested {
			t.Errorf("%s: no promql_expr_test reads %s", ruleTestsFile, r.Record)
		}
	}
}

func loadRuleTests(t testing.TB) ruleTestFile {
	t.Helper()
	data, err := os.ReadFile(ruleTestsFile)
	if err != nil {
		t.Fatal(err)
	}
	var tf ruleTestFile
	if err := yaml.Unmarshal(data, &tf); err != nil {
		t.Fatalf("parse %s: %v", ruleTestsFile, err)
	}
	return tf
}

// seriesJob returns the job label of a promtool input series, or "".
func seriesJob(series string) string {
	m := regexp.MustCompile(`[{,]\s*job\s*=\s*"([^"]*)"`).FindStringSubmatch(series)
	if m == nil {
		return ""
	}
	return m[1]
}

// TestRuleTestsCoverEveryAlert checks that alerts_test.yml has, for every
// alert and each of its severities, a case where it fires, one where it
// must not, and that a Prometheus without vectord targets fires none of
// them.
func TestRuleTestsCoverEveryAlert(t *testing.T) {
	tf := loadRuleTests(t)
	if !slices.Contains(tf.RuleFiles, rulesFile) {
		t.Errorf("%s rule_files = %v, want it to load %s", ruleTestsFile, tf.RuleFiles, rulesFile)
	}
	firing := make(map[string]bool) // by alert name and severity
	silent := make(map[string]bool)
	silentWithoutVectord := make(map[string]bool)
	for _, group := range tf.Tests {
		if d, err := time.ParseDuration(group.Interval); err != nil || d > 5*time.Minute {
			t.Errorf("test group interval %q: want a duration of 5m or less, so samples do not go stale", group.Interval)
		}
		vectord := false
		for _, s := range group.InputSeries {
			vectord = vectord || vectordJob.MatchString(seriesJob(s.Series)) || strings.HasPrefix(s.Series, "vectord_")
		}
		for _, c := range group.AlertRuleTest {
			for _, a := range c.ExpAlerts {
				firing[c.Alertname+"/"+a.ExpLabels["severity"]] = true
			}
			if len(c.ExpAlerts) == 0 {
				silent[c.Alertname] = true
				if !vectord && len(group.InputSeries) > 0 {
					silentWithoutVectord[c.Alertname] = true
				}
			}
		}
	}
	for _, r := range loadRules(t) {
		if r.Alert == "" {
			continue
		}
		if sev := r.Labels["severity"]; !firing[r.Alert+"/"+sev] {
			t.Errorf("%s: no test case where %s fires with severity %s", ruleTestsFile, r.Alert, sev)
		}
		if !silent[r.Alert] {
			t.Errorf("%s: no test case where %s must not fire", ruleTestsFile, r.Alert)
		}
		if !silentWithoutVectord[r.Alert] {
			t.Errorf("%s: no test case where %s must not fire on a Prometheus without vectord targets", ruleTestsFile, r.Alert)
		}
	}
}

// TestMetricNamesExist checks that every metric the alert rules and the
// dashboard query is one vectord exposes, so a renamed metric cannot leave
// an alert that silently never fires.
func TestMetricNamesExist(t *testing.T) {
	known := exposedNames(t)
	for _, r := range loadRules(t) {
		if r.Record != "" {
			known[r.Record] = true // the rules' own series
		}
	}
	check := func(t *testing.T, where, expr string) {
		t.Helper()
		names := metricNames(expr)
		if len(names) == 0 {
			t.Errorf("%s: no metric found in %q", where, expr)
		}
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: metric %s is not exposed by vectord (expression %q)", where, n, expr)
			}
		}
	}

	t.Run(rulesFile, func(t *testing.T) {
		for _, r := range loadRules(t) {
			check(t, r.Alert+r.Record, r.Expr)
		}
	})
	t.Run(dashboardFile, func(t *testing.T) {
		d := loadDashboard(t)
		n := 0
		for _, p := range d.allPanels() {
			for _, tg := range p.Targets {
				check(t, "panel "+p.Title, tg.Expr)
				n++
			}
		}
		for _, v := range d.Templating.List {
			if v.Type == "query" {
				check(t, "variable "+v.Name, variableExpr(v.queryText()))
				n++
			}
		}
		if n == 0 {
			t.Error("dashboard has no queries")
		}
	})
}

func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.SchemaVersion < 38 {
		t.Errorf("schemaVersion = %d, want at least 38", d.SchemaVersion)
	}
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid = %q, title = %q, want both set", d.UID, d.Title)
	}

	vars := make(map[string]variable)
	for _, v := range d.Templating.List {
		vars[v.Name] = v
	}
	if v := vars["datasource"]; v.Type != "datasource" || v.Query != "prometheus" {
		t.Errorf("variable datasource = {type %q, query %v}, want a prometheus data source variable", v.Type, v.Query)
	}
	for _, name := range []string{"instance", "site", "environment"} {
		v := vars[name]
		q := v.queryText()
		if v.Type != "query" || !strings.HasPrefix(q, "label_values(") || !strings.HasSuffix(q, ", "+name+")") {
			t.Errorf("variable %s = {type %q, query %q}, want a label_values query for %s", name, v.Type, q, name)
		}
		if v.Datasource.UID != "${datasource}" {
			t.Errorf("variable %s data source = %q, want ${datasource}", name, v.Datasource.UID)
		}
	}

	ids := make(map[int]string)
	for _, p := range d.allPanels() {
		if prev, ok := ids[p.ID]; ok {
			t.Errorf("panels %q and %q share id %d", prev, p.Title, p.ID)
		}
		ids[p.ID] = p.Title
		if p.GridPos.X+p.GridPos.W > 24 || p.GridPos.W <= 0 || p.GridPos.H <= 0 {
			t.Errorf("panel %q gridPos = %+v, want it within the 24-column grid", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if p.Title == "" || p.Description == "" {
			t.Errorf("panel %d: title %q, description %q, want both", p.ID, p.Title, p.Description)
		}
		if p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q data source = %q, want ${datasource}", p.Title, p.Datasource.UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no queries", p.Title)
		}
		for _, tg := range p.Targets {
			if tg.Datasource.UID != "${datasource}" {
				t.Errorf("panel %q query %s data source = %q, want ${datasource}", p.Title, tg.RefID, tg.Datasource.UID)
			}
			// TestDashboardQueriesLive checks that they filter by them.
			for _, v := range []string{`instance=~"$instance"`, `site=~"$site"`, `environment=~"$environment"`} {
				if !strings.Contains(tg.Expr, v) {
					t.Errorf("panel %q query %s does not select %s: %s", p.Title, tg.RefID, v, tg.Expr)
				}
			}
		}
	}

	// The dashboard shows what the brief promises users.
	var exprs strings.Builder
	for _, p := range d.allPanels() {
		for _, tg := range p.Targets {
			exprs.WriteString(tg.Expr + "\n")
		}
	}
	for _, want := range []string{
		"time() - vectord_backup_last_success_timestamp_seconds",
		"increase(vectord_backup_runs_total",
		"vectord_backup_failures_total",
		"vectord_backup_last_size_bytes",
		"vectord_backup_phase_duration_seconds_bucket",
		"vectord_download_url_remaining_seconds_bucket",
		"sum by (code)",
		"vectord_jobs_running",
		"vectord_jobs_queued",
		"vectord_archive_pending_backups",
		"vectord_archive_upload_failures_total",
		"vectord_api_budget_remaining",
		"vectord_api_rate_limited_until_timestamp_seconds",
		"vectord_scheduled_runs_skipped_total",
		"vectord_config_reloads_total",
		"process_start_time_seconds",
		"vectord:backup_last_scheduled_success_timestamp_seconds",
	} {
		if !strings.Contains(exprs.String(), want) {
			t.Errorf("no dashboard query contains %q", want)
		}
	}
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		expr string
		want []string
	}{
		{`up{job="vectord"} == 0 or absent(up{job="vectord"})`, []string{"up"}},
		{`time() - vectord_a > clamp_min(2 * vectord_b, 7200)`, []string{"vectord_a", "vectord_b"}},
		{`sum by (le, phase) (increase(x_bucket{le=~"600(\\.0)?", a='b}'}[1d] offset 1h))`, []string{"x_bucket"}},
		{`sum(rate(x_total[$__rate_interval])) by (code) * 60`, []string{"x_total"}},
		{`a > on(job, instance) group_left(site) b unless ignoring (x) c`, []string{"a", "b", "c"}},
		{"quantile_over_time(0.5, s[7d:1h]) # comment naming not_a_metric\n and bool m", []string{"s", "m"}},
		{`topk(3, x) and Inf > 1e6`, []string{"x"}},
		{`{__name__="x"}`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, metricNames(tt.expr)); diff != "" {
				t.Errorf("metricNames(%q) (-want +got):\n%s", tt.expr, diff)
			}
		})
	}
}

func TestVariableExpr(t *testing.T) {
	tests := []struct{ query, want string }{
		{`label_values(vectord_x, site)`, `vectord_x`},
		{`label_values(vectord_x{site=~"$site"}, environment)`, `vectord_x{site=~"$site"}`},
		{`label_values(site)`, ``},
		{`query_result(up)`, `query_result(up)`},
	}
	for _, tt := range tests {
		if got := variableExpr(tt.query); got != tt.want {
			t.Errorf("variableExpr(%q) = %q, want %q", tt.query, got, tt.want)
		}
	}
}

func FuzzMetricNames(f *testing.F) {
	f.Add(`sum by (le) (increase(x_bucket{le="600"}[1h])) > 0`)
	f.Add(`a{b="\"}"} or c[5m] offset 1d`)
	f.Add("`raw` $x ${y} 1.5e3 #")
	ident := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	f.Fuzz(func(t *testing.T, expr string) {
		for _, n := range metricNames(expr) {
			if !ident.MatchString(n) {
				t.Errorf("metricNames(%q) returned %q, not a metric name", expr, n)
			}
		}
	})
}

// exposedNames returns every series name a fresh vectord exposes once each
// of its metrics has a value, plus the Prometheus built-ins.
func exposedNames(t testing.TB) map[string]bool {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	m, err := metrics.New(reg, "test")
	if err != nil {
		t.Fatalf("metrics.New() error = %v", err)
	}
	now := time.Now()
	m.SetSchedule("s", "e", now.Add(time.Hour), time.Hour)
	m.SetJobs(1, 1)
	m.ObservePhase(metrics.PhaseExport, time.Second)
	m.ObserveURLRemaining(time.Minute)
	m.APIRequest("export", "202")
	m.JobSucceeded("s", "e", metrics.TriggerSchedule, now, 1, time.Second)
	m.JobFailed("s", "e", metrics.TriggerSchedule, metrics.ReasonAPI, now)
	m.SetStored("s", "e", "local", 1, 1)
	m.RetentionDeleted("s", "e", "local")
	m.RetentionDeleteFailed("s", "e", "local")
	m.SetArchivePending("s", "e", "s3", 1)
	m.ArchiveFailed("s", "e", "s3")
	m.SetBudget(1)
	m.SetRateLimitedUntil(now)
	m.ScheduledRunSkipped("s", "e")
	m.ConfigReloaded(false)
	m.NotifyFailed("n")
	m.DrillSucceeded("s", "e", now)
	m.DrillFailed("s", "e")
	m.SetLeader(true)

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() error = %v", err)
	}
	known := map[string]bool{"up": true, "time": true}
	for _, mf := range mfs {
		if len(mf.GetMetric()) == 0 {
			t.Errorf("%s has no series after recording one of each", mf.GetName())
		}
		name := mf.GetName()
		known[name] = true
		switch mf.GetType().String() {
		case "HISTOGRAM":
			known[name+"_bucket"] = true
			known[name+"_sum"] = true
			known[name+"_count"] = true
		case "SUMMARY":
			known[name+"_sum"] = true
			known[name+"_count"] = true
		}
	}
	if !known["vectord_backup_last_success_timestamp_seconds"] {
		t.Fatal("vectord metrics missing from the registry")
	}
	return known
}

func loadRules(t testing.TB) []rule {
	t.Helper()
	data, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	var rf ruleFile
	if err := dec.Decode(&rf); err != nil {
		t.Fatalf("parse %s: %v", rulesFile, err)
	}
	var rules []rule
	for _, g := range rf.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s has no rules", rulesFile)
	}
	return rules
}

type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type datasourceRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

type panel struct {
	ID          int           `json:"id"`
	Type        string        `json:"type"`
	Title       string        `json:"title"`
	Description string        `json:"description"`
	Datasource  datasourceRef `json:"datasource"`
	GridPos     struct {
		X, Y, W, H int
	} `json:"gridPos"`
	Targets []struct {
		Datasource datasourceRef `json:"datasource"`
		Expr       string        `json:"expr"`
		RefID      string        `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

type variable struct {
	Type       string        `json:"type"`
	Name       string        `json:"name"`
	Datasource datasourceRef `json:"datasource"`
	Query      any           `json:"query"` // a string, or an object with a query field
}

func (v variable) queryText() string {
	switch q := v.Query.(type) {
	case string:
		return q
	case map[string]any:
		s, _ := q["query"].(string)
		return s
	}
	return ""
}

func (d dashboard) allPanels() []panel {
	var out []panel
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			out = append(out, p)
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	return out
}

func loadDashboard(t testing.TB) dashboard {
	t.Helper()
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("parse %s: %v", dashboardFile, err)
	}
	return d
}

var labelValuesRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*[a-zA-Z_][a-zA-Z0-9_]*\s*\)\s*$`)

// variableExpr returns the PromQL expression inside a Grafana variable
// query: the series selector of label_values(selector, label), nothing for
// label_values(label), and the query itself otherwise.
func variableExpr(q string) string {
	if m := labelValuesRE.FindStringSubmatch(q); m != nil {
		return m[1]
	}
	if strings.HasPrefix(strings.TrimSpace(q), "label_values(") {
		return ""
	}
	return q
}

var (
	// promqlKeywords are words that are neither metrics nor followed by "(".
	promqlKeywords = map[string]bool{
		"and": true, "or": true, "unless": true, "offset": true, "bool": true, "atan2": true,
		"inf": true, "nan": true,
	}
	// labelListKeywords are followed by a parenthesized list of label names.
	labelListKeywords = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	}
	// aggregators may be followed by "by (...)" before their "(".
	aggregators = map[string]bool{
		"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true,
		"count": true, "count_values": true, "bottomk": true, "topk": true, "quantile": true,
		"limitk": true, "limit_ratio": true,
	}
)

// metricNames returns the metric names a PromQL expression selects, in
// order of first appearance. It is a small lexer, not a parser: it skips
// strings, label matchers, ranges, numbers and durations, comments, Grafana
// variables, keywords, label lists and function calls, and reports every
// other identifier.
func metricNames(expr string) []string {
	var names []string
	s := expr
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			i = skipString(s, i)
		case c == '{':
			i = skipUntil(s, i, '}')
		case c == '[':
			i = skipUntil(s, i, ']')
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '$':
			i++
			if i < len(s) && s[i] == '{' {
				i = skipUntil(s, i, '}')
			}
			for i < len(s) && isIdentChar(s[i]) {
				i++
			}
		case isDigit(c) || c == '.':
			for i < len(s) && (isIdentChar(s[i]) || s[i] == '.') {
				i++
			}
		case isIdentStart(c):
			j := i
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			word := s[i:j]
			i = j
			lower := strings.ToLower(word)
			next := j
			for next < len(s) && (s[next] == ' ' || s[next] == '\t' || s[next] == '\n' || s[next] == '\r') {
				next++
			}
			switch {
			case labelListKeywords[lower]:
				if next < len(s) && s[next] == '(' {
					i = skipUntil(s, next, ')')
				}
			case promqlKeywords[lower] || aggregators[lower]:
			case next < len(s) && s[next] == '(':
				// a function call
			default:
				if !slices.Contains(names, word) {
					names = append(names, word)
				}
			}
		default:
			i++
		}
	}
	return names
}

// skipString returns the index just past the string literal starting at i.
func skipString(s string, i int) int {
	quote := s[i]
	for i++; i < len(s); i++ {
		switch {
		case s[i] == '\\' && quote != '`':
			i++
		case s[i] == quote:
			return i + 1
		}
	}
	return len(s)
}

// skipUntil returns the index just past the first end at or after i that is
// not inside a string literal.
func skipUntil(s string, i int, end byte) int {
	for i < len(s) {
		switch {
		case s[i] == '"' || s[i] == '\'' || s[i] == '`':
			i = skipString(s, i)
		case s[i] == end:
			return i + 1
		default:
			i++
		}
	}
	return len(s)
}

func isDigit(c byte) bool {
	return '0' <= c && c <= '9'
}

func isIdentStart(c byte) bool {
	return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
}

func isIdentChar(c byte) bool {
	return isIdentStart(c) || isDigit(c)
}
