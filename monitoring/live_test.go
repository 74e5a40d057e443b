package monitoring

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// liveBudget bounds the live test once its binaries are built: the daemon,
// Prometheus and every query.
const liveBudget = 60 * time.Second

// requireTool returns the path of a tool the test needs, skipping the test
// when it is missing, except in CI (CI set), where that is a failure.
func requireTool(t *testing.T, name, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		msg := name + " is not on PATH; " + install
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return path
}

// TestDashboardQueriesLive runs a real vectord daemon against the simulated
// Vector API (with an S3 archive target that refuses every upload, so the
// archive panels have something to show), scrapes it with a real
// Prometheus that also evaluates alerts.yml, and checks through
// Prometheus's HTTP API that
//   - every dashboard query, with the template variables set to one real
//     instance, site and environment, returns at least one series;
//   - with any one of those variables set to a value that matches nothing,
//     every query returns none (each query honours every variable);
//   - every variable query offers the chosen value;
//   - every rule of alerts.yml evaluates without an error.
func TestDashboardQueriesLive(t *testing.T) {
	promBin := requireTool(t, "prometheus", "install it with scripts/deps.sh (Debian package prometheus)")
	if testing.Short() {
		t.Skip("runs vectord and Prometheus for up to a minute")
	}
	bin := buildVectord(t)
	started := time.Now()
	ctx, cancel := context.WithTimeout(t.Context(), liveBudget)
	defer cancel()

	dir := t.TempDir()
	const token = "monitoring-live-token"
	sim := vectorsim.New(vectorsim.Options{Token: token, TempDir: dir, DumpSize: 8 << 10})
	sim.AddSite("1001", "2001") // acme: development and production
	sim.AddSite("1002")         // globex: development
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)
	s3 := httptest.NewServer(http.HandlerFunc(refuseS3))
	t.Cleanup(s3.Close)

	listen := freeAddr(t)
	cfg := filepath.Join(dir, "config.yaml")
	writeFile(t, cfg, fmt.Sprintf(`api:
  base_url: %s/api/v1/vector
  token: %s
  poll_interval: 20ms
  poll_max_interval: 100ms
  requests_per_minute: 6000
  db_operations_per_hour: 1000
state_dir: %s
storage:
  local:
    path: %s
  s3:
    endpoint: %s
    region: us-east-1
    bucket: vectord-archive
    access_key_id: AKIAMONITORINGTEST00
    secret_access_key: monitoring-test-secret
    force_path_style: true
server:
  listen: %s
shutdown_timeout: 5s
defaults:
  schedule: "@every 2s"
  jitter: 0s
  retention: { keep_last: 2 }
sites:
  - name: acme
    id: "1001"
    environments:
      - name: development
      - name: production
        id: "2001"
  - name: globex
    id: "1002"
`, api.URL, token, filepath.Join(dir, "state"), filepath.Join(dir, "backups"), s3.URL, listen))
	startProcess(t, "vectord", bin, "run", "--config", cfg)
	waitUntil(ctx, t, "vectord /readyz", func() bool { return httpStatus("http://"+listen+"/readyz") == http.StatusOK })

	promURL := startPrometheus(ctx, t, promBin, listen)

	// A few failed exports of acme/production, then successes again, so
	// that the failure panels have failures to show.
	waitUntil(ctx, t, "a scheduled backup", func() bool {
		return len(instantQuery(ctx, t, promURL, `vectord:backup_last_scheduled_success_timestamp_seconds{site="acme", environment="production"}`)) > 0
	})
	sim.SetFaults("1001", vectorsim.Faults{FailExport: "mysqldump: Got error: 2013: Lost connection"})
	waitUntil(ctx, t, "a failed backup", func() bool {
		return len(instantQuery(ctx, t, promURL, `vectord_backup_failures_total{site="acme", environment="production", reason="export_failed"} > 0`)) > 0
	})
	sim.SetFaults("1001", vectorsim.Faults{})

	vars := map[string]string{"instance": listen, "site": "acme", "environment": "production"}
	d := loadDashboard(t)
	type query struct{ where, expr string }
	var queries []query
	panels := 0
	for _, p := range d.allPanels() {
		if p.Type == "row" {
			continue
		}
		panels++
		for _, tg := range p.Targets {
			queries = append(queries, query{fmt.Sprintf("panel %q query %s", p.Title, tg.RefID), tg.Expr})
		}
	}

	// Every query returns a series once the daemon has done a little of
	// everything; wait for that, up to the budget.
	var missing []string
	series := 0
	waitUntil(ctx, t, "a series from every dashboard query", func() bool {
		missing, series = nil, 0
		for _, q := range queries {
			n := len(instantQuery(ctx, t, promURL, substitute(t, q.expr, vars)))
			if n == 0 {
				missing = append(missing, q.where+": "+substitute(t, q.expr, vars))
			}
			series += n
		}
		return len(missing) == 0
	}, func() string { return "still no series from:\n" + strings.Join(missing, "\n") })
	t.Logf("%d panels, %d queries, %d series for instance %s, acme/production", panels, len(queries), series, listen)

	// Each query honours every variable: a value that matches nothing
	// leaves it without a series.
	for name := range vars {
		other := maps.Clone(vars)
		other[name] = "no-such-" + name
		for _, q := range queries {
			if n := len(instantQuery(ctx, t, promURL, substitute(t, q.expr, other))); n != 0 {
				t.Errorf("%s ignores $%s: with %s=%q it still returns %d series: %s", q.where, name, name, other[name], n, q.expr)
			}
		}
	}

	// Each variable offers the chosen value.
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := variableRE.FindStringSubmatch(v.queryText())
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(selector, label)", v.Name, v.queryText())
			continue
		}
		values := labelValues(ctx, t, promURL, substitute(t, m[1], vars), m[2])
		if !slices.Contains(values, vars[v.Name]) {
			t.Errorf("variable %s offers %v, want it to offer %q", v.Name, values, vars[v.Name])
		}
	}

	// The rules evaluate without an error on real series.
	for _, r := range ruleHealth(ctx, t, promURL) {
		if r.Health != "ok" {
			t.Errorf("rule %s: health %q: %s", r.Name, r.Health, r.LastError)
		}
	}
	t.Logf("live dashboard check took %v after the build", time.Since(started).Round(time.Second))
}

// substitute replaces the dashboard's template variables in expr the way
// Grafana would for one selected value each, and Grafana's built-in
// interval variables with durations that suit a minute of data.
func substitute(t testing.TB, expr string, vars map[string]string) string {
	t.Helper()
	pairs := []string{"$__rate_interval", "1m", "${__rate_interval}", "1m", "$__interval", "15s", "$__range", "1h"}
	for k, v := range vars {
		pairs = append(pairs, "${"+k+"}", v, "$"+k, v)
	}
	out := strings.NewReplacer(pairs...).Replace(expr)
	if strings.Contains(out, "$") {
		t.Fatalf("unknown variable left in %q", out)
	}
	return out
}

// refuseS3 answers every S3 request as a bucket that denies access would.
func refuseS3(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>AccessDenied</Code><Message>Access Denied</Message><RequestId>1</RequestId></Error>`)
}

// buildVectord builds the vectord binary into a temporary directory.
func buildVectord(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "vectord")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/builtfast/vectord/cmd/vectord").CombinedOutput()
	if err != nil {
		t.Fatalf("go build vectord: %v\n%s", err, out)
	}
	return bin
}

// startPrometheus runs Prometheus with its storage in a temporary
// directory, scraping target every second in a job named "vectord" and
// evaluating alerts.yml every second, and returns its URL once it is ready.
func startPrometheus(ctx context.Context, t *testing.T, bin, target string) string {
	t.Helper()
	dir := t.TempDir()
	rules, err := filepath.Abs(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, cfg, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: vectord
    static_configs:
      - targets: [%q]
`, rules, target))
	listen := freeAddr(t)
	startProcess(t, "prometheus", bin,
		"--config.file="+cfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn",
	)
	u := "http://" + listen
	waitUntil(ctx, t, "prometheus /-/ready", func() bool { return httpStatus(u+"/-/ready") == http.StatusOK })
	return u
}

// startProcess starts a command that runs until the test ends; a command
// that exits early fails the test, and its output is logged when the test
// fails.
func startProcess(t *testing.T, name, bin string, args ...string) {
	t.Helper()
	out := &lockedBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		k, _, _ := strings.Cut(kv, "=")
		return k == "NOTIFY_SOCKET" || k == "WATCHDOG_USEC" || k == "WATCHDOG_PID" || k == "VECTORD_CONFIG"
	})
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s's output:\n%s", name, lastLines(out.String(), 40))
		}
	})
}

// waitUntil polls cond every 250ms until it holds, failing the test when
// ctx ends first; explain, if given, says what was still missing.
func waitUntil(ctx context.Context, t *testing.T, what string, cond func() bool, explain ...func() string) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			msg := ""
			for _, e := range explain {
				msg += "\n" + e()
			}
			t.Fatalf("gave up waiting for %s within the test's %v budget%s", what, liveBudget, msg)
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// instantQuery runs a PromQL query at the current time and returns its
// result's series (labels only).
func instantQuery(ctx context.Context, t *testing.T, base, expr string) []map[string]string {
	t.Helper()
	var body struct {
		Status    string `json:"status"`
		ErrorType string `json:"errorType"`
		Error     string `json:"error"`
		Data      struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
			} `json:"result"`
		} `json:"data"`
	}
	getJSON(ctx, t, base+"/api/v1/query?"+url.Values{"query": {expr}}.Encode(), &body)
	if body.Status != "success" {
		t.Fatalf("query %s: %s: %s", expr, body.ErrorType, body.Error)
	}
	out := make([]map[string]string, 0, len(body.Data.Result))
	for _, r := range body.Data.Result {
		out = append(out, r.Metric)
	}
	return out
}

// labelValues returns the values label takes in the series selector
// matches, as Grafana's label_values(selector, label) does.
func labelValues(ctx context.Context, t *testing.T, base, selector, label string) []string {
	t.Helper()
	var body struct {
		Status string   `json:"status"`
		Error  string   `json:"error"`
		Data   []string `json:"data"`
	}
	getJSON(ctx, t, base+"/api/v1/label/"+label+"/values?"+url.Values{"match[]": {selector}}.Encode(), &body)
	if body.Status != "success" {
		t.Fatalf("label values of %s in %s: %s", label, selector, body.Error)
	}
	return body.Data
}

type ruleState struct {
	Name      string `json:"name"`
	Health    string `json:"health"`
	LastError string `json:"lastError"`
}

// ruleHealth returns every rule Prometheus evaluates, once each has been
// evaluated at least once.
func ruleHealth(ctx context.Context, t *testing.T, base string) []ruleState {
	t.Helper()
	var rules []ruleState
	waitUntil(ctx, t, "every rule evaluated", func() bool {
		var body struct {
			Data struct {
				Groups []struct {
					Rules []ruleState `json:"rules"`
				} `json:"groups"`
			} `json:"data"`
		}
		getJSON(ctx, t, base+"/api/v1/rules", &body)
		rules = nil
		for _, g := range body.Data.Groups {
			rules = append(rules, g.Rules...)
		}
		return len(rules) > 0 && !slices.ContainsFunc(rules, func(r ruleState) bool { return r.Health == "unknown" })
	})
	if want := len(loadRules(t)); len(rules) != want {
		t.Errorf("Prometheus evaluates %d rules, want the %d of %s", len(rules), want, rulesFile)
	}
	return rules
}

func getJSON(ctx context.Context, t *testing.T, u string, v any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: status %s: %v", u, resp.Status, err)
	}
}

func httpStatus(u string) int {
	resp, err := http.Get(u)
	if err != nil {
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lastLines(s string, n int) string {
	lines := strings.SplitAfter(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "")
}

// lockedBuffer is an io.Writer safe for a process's stdout and stderr.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// variableRE splits a label_values(selector, label) variable query.
var variableRE = regexp.MustCompile(`^\s*label_values\(\s*(.*?)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
