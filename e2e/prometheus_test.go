package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/builtfast/vectord/vectorsim"
)

// TestBackupFailingAlert: a real Prometheus scraping the daemon and
// evaluating monitoring/alerts.yml fires BackupFailing for the environment
// whose exports fail, and only for it, and resolves it after that
// environment's next successful backup.
func TestBackupFailingAlert(t *testing.T) {
	bin := tool(t, "prometheus")
	if bin == "" {
		t.Skip("prometheus not found on PATH (Debian package prometheus; scripts/deps.sh installs it)")
	}
	f := newFixture(t, options{schedule: "@every 1s", sites: `  - name: acme
    id: "1001"
  - name: globex
    id: "1002"
`})
	f.sim.SetFaults(globexID, vectorsim.Faults{FailExport: "mysqldump: Got error: 2013: Lost connection"})
	prom := startPrometheus(t, bin, f.listen)
	p := f.start()

	waitFor(t, "BackupFailing firing for globex/development", 20*time.Second, func() bool {
		return prom.alertState(t, "BackupFailing", "globex", "development") == "firing"
	})
	if st := prom.alertState(t, "BackupFailing", "acme", "development"); st != "" {
		t.Errorf("BackupFailing is %s for acme/development, whose backups succeed", st)
	}

	f.sim.SetFaults(globexID, vectorsim.Faults{})
	waitFor(t, "BackupFailing resolved for globex/development", 20*time.Second, func() bool {
		return prom.alertState(t, "BackupFailing", "globex", "development") == ""
	})
	fs := f.scrape()
	if n := fs.sum("vectord_backup_runs_total", "site", "globex", "environment", "development", "outcome", "success"); n < 1 {
		t.Errorf("BackupFailing resolved without a successful globex backup (runs with outcome success = %v)", n)
	}
	p.stopClean(t)
	f.assertInvariants(t)
}

// prometheus is a Prometheus server run by a test.
type prometheus struct {
	url string
}

// startPrometheus runs Prometheus with its storage in a temporary directory,
// scraping the daemon at target every second in a job named "vectord" (the
// name alerts.yml expects) and evaluating the project's alert rules every
// second, and returns once it is ready.
func startPrometheus(t *testing.T, bin, target string) *prometheus {
	t.Helper()
	dir := t.TempDir()
	rules := filepath.Join(dir, "alerts.yml")
	writeFastRules(t, "../monitoring/alerts.yml", rules)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - %s
scrape_configs:
  - job_name: vectord
    static_configs:
      - targets: [%q]
`, rules, target)
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	out := &syncBuffer{}
	cmd := exec.Command(bin,
		"--config.file="+cfgPath,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+listen,
		"--log.level=warn",
	)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prometheus: %v", err)
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
			t.Logf("prometheus's log:\n%s", tail(out.String(), 30))
		}
	})
	p := &prometheus{url: "http://" + listen}
	waitFor(t, "prometheus /-/ready", 20*time.Second, func() bool {
		select {
		case <-done:
			t.Fatalf("prometheus exited during start-up:\n%s", out)
		default:
		}
		return httpStatus(p.url+"/-/ready") == http.StatusOK
	})
	return p
}

// writeFastRules copies the alert rules from src to dst with BackupFailing's
// "for" shortened to 0s: alerts.yml waits 5m before it fires, far longer
// than a test may take. The expression, labels and every other rule stay as
// shipped.
func writeFastRules(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("parse %s: %v", src, err)
	}
	groups := mapValue(doc.Content[0], "groups")
	if groups == nil {
		t.Fatalf("%s has no groups", src)
	}
	found := false
	for _, group := range groups.Content {
		rules := mapValue(group, "rules")
		if rules == nil {
			continue
		}
		for _, rule := range rules.Content {
			if a := mapValue(rule, "alert"); a == nil || a.Value != "BackupFailing" {
				continue
			}
			found = true
			if d := mapValue(rule, "for"); d != nil {
				d.Value = "0s"
			}
		}
	}
	if !found {
		t.Fatalf("%s has no BackupFailing rule", src)
	}
	out, err := yaml.Marshal(&doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, out, 0o600); err != nil {
		t.Fatal(err)
	}
}

// mapValue returns the value node of key in a mapping node, or nil.
func mapValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// alertState returns the state ("pending" or "firing") of the alert named
// name for site/env, or "" when Prometheus has no such active alert.
func (p *prometheus) alertState(t *testing.T, name, site, env string) string {
	t.Helper()
	resp, err := http.Get(p.url + "/api/v1/alerts")
	if err != nil {
		t.Fatalf("GET /api/v1/alerts: %v", err)
	}
	defer resp.Body.Close()
	var body struct {
		Status string `json:"status"`
		Data   struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Status != "success" {
		t.Fatalf("GET /api/v1/alerts: status %q, %v", body.Status, err)
	}
	for _, a := range body.Data.Alerts {
		l := a.Labels
		if l["alertname"] == name && l["site"] == site && l["environment"] == env && l["job"] == "vectord" {
			return a.State
		}
	}
	return ""
}
