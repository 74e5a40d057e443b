package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// TestSecretsStayPrivate runs the daemon and the command line through
// successes and failures — 5xx and 429 answers, a failed export, expired
// and cut downloads, a wrong API token, a wrong control token, a wrong S3
// secret when an S3 server is available — with distinctive secrets, and
// then searches everything a user or an attacker with read access to logs,
// /metrics or the control API could see: every byte each process wrote to
// stdout and stderr, every /metrics, /healthz, /readyz and /api/v1 answer,
// and the raw bytes of every file under state_dir and the storage roots
// (catalog.db included, free pages and all). None may hold the API token,
// the control token, the S3 secret, a wrong token a user typed, or any
// presigned URL's signature or credential. Every file vectord creates there
// is 0600 and every directory 0700.
func TestSecretsStayPrivate(t *testing.T) {
	s := newSecFixture(t)

	// Start-up: every environment is caught up at once while the API
	// answers 5xx and 429, the first download URL has already expired, two
	// downloads are cut short, and globex's exports fail.
	s.sim.SetFaults("", vectorsim.Faults{ServerErrors: 3, RateLimited: 2, ExpiredURLs: 1, CutAfter: 4 << 10, CutTimes: 2})
	s.sim.SetFaults(globexID, vectorsim.Faults{FailExport: "mysqldump: Got error: 1045: Access denied for user 'wp'"})
	d := s.startDaemon()
	var fams families
	waitFor(t, "the start-up backups of all three environments to end", 30*time.Second, func() bool {
		fams = parseMetrics(t, s.get("/metrics", ""))
		running, _ := fams.value("vectord_jobs_running")
		queued, _ := fams.value("vectord_jobs_queued")
		return fams.sum("vectord_backup_runs_total") >= 3 && running == 0 && queued == 0
	})
	if n := fams.sum("vectord_backup_failures_total", "site", "globex"); n < 1 {
		t.Errorf("vectord_backup_failures_total{site=globex} = %v, want ≥ 1", n)
	}

	t.Run("control API refuses requests without the control token", func(t *testing.T) {
		exports := secExportRequests(s.sim)
		for _, c := range []struct{ name, auth string }{
			{"no Authorization header", ""},
			{"a wrong token", "Bearer " + s.wrongControl},
			{"the token without Bearer", s.control},
			{"the API token", "Bearer " + s.apiToken},
		} {
			for _, r := range []struct{ method, path, body string }{
				{"GET", "/api/v1/backups", ""},
				{"GET", "/api/v1/backups?site=acme&env=production", ""},
				{"POST", "/api/v1/backups", `{"site":"acme","environment":"production"}`},
				{"GET", "/api/v1/jobs/01JAAAAAAAAAAAAAAAAAAAAAAA", ""},
			} {
				code, head, _ := s.doHead(r.method, r.path, c.auth, r.body)
				if code != http.StatusUnauthorized || !strings.HasPrefix(head.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s %s with %s = %d (WWW-Authenticate %q), want 401 asking for a Bearer token",
						r.method, r.path, c.name, code, head.Get("WWW-Authenticate"))
				}
			}
		}
		if got := secExportRequests(s.sim); got != exports {
			t.Errorf("export requests went from %d to %d after unauthorized POSTs, want no new export", exports, got)
		}
	})

	// A backup through the control API, whose download URL has expired and
	// whose download is cut once.
	s.sim.SetFaults("", vectorsim.Faults{ExpiredURLs: 1, CutAfter: 4 << 10, CutTimes: 1})
	code, body := s.do("POST", "/api/v1/backups", "Bearer "+s.control, `{"site":"acme","environment":"production","reason":"security check"}`)
	var started struct {
		JobID string `json:"job_id"`
	}
	if code != http.StatusAccepted || json.Unmarshal(body, &started) != nil || started.JobID == "" {
		t.Fatalf("POST /api/v1/backups with the token = %d %s, want 202 with a job_id", code, body)
	}
	var job struct {
		State, Error string
	}
	waitFor(t, "the control API's job to end", 20*time.Second, func() bool {
		code, body := s.do("GET", "/api/v1/jobs/"+started.JobID, "Bearer "+s.control, "")
		if code != http.StatusOK || json.Unmarshal(body, &job) != nil {
			t.Fatalf("GET /api/v1/jobs/%s = %d %s", started.JobID, code, body)
		}
		return job.State == "succeeded" || job.State == "failed"
	})
	if job.State != "succeeded" {
		t.Fatalf("job after an expired URL and a cut download = %s (%s), want succeeded", job.State, job.Error)
	}
	if code, body := s.do("GET", "/api/v1/backups", "Bearer "+s.control, ""); code != http.StatusOK {
		t.Errorf("GET /api/v1/backups with the token = %d %s, want 200", code, body)
	}

	// The command line while the daemon runs: it asks the daemon.
	if code, _, errs := s.vectord("", "backup", "--site", "acme", "--env", "development", "--reason", "cli", "-v"); code != 0 {
		t.Fatalf("vectord backup through the daemon = %d: %s", code, errs)
	}
	if code, _, _ := s.vectord("", "backup", "--site", "globex", "-v"); code != 1 {
		t.Errorf("vectord backup of globex, whose exports fail, = %d, want 1", code)
	}
	// A wrong control token: the command line is refused, not let in.
	if code, _, errs := s.vectord(s.wrongConfig(t, "control-token", s.wrongControl), "backup", "--site", "acme", "--env", "production", "-v"); code != 1 || !strings.Contains(errs, "control token") {
		t.Errorf("vectord backup with a wrong control token while the daemon runs = %d %q, want 1 naming the control token", code, errs)
	}
	// A reload of a configuration that is wrong where the token is written
	// is refused without quoting it.
	good, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	broken := bytes.Replace(good, []byte("token_file: "+filepath.Join(s.dir, "api-token")), []byte("token: ["+s.apiToken+"]"), 1)
	if err := os.WriteFile(s.cfg, broken, 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t, "configuration reload refused")
	if err := os.WriteFile(s.cfg, good, 0o600); err != nil {
		t.Fatal(err)
	}
	d.reload(t, "configuration reloaded")
	s.vectord("", "list", "--json")
	for _, p := range []string{"/metrics", "/healthz", "/readyz"} {
		s.get(p, "")
	}
	d.stopClean(t)

	// The command line on its own.
	code, out, errs := s.vectord("", "list", "--json", "--site", "acme", "--env", "development")
	var recs []struct{ ID string }
	if code != 0 || json.Unmarshal([]byte(out), &recs) != nil || len(recs) == 0 {
		t.Fatalf("vectord list --json = %d %q %q", code, out, errs)
	}
	id := recs[0].ID
	s.vectord("", "verify")
	s.vectord("", "cat", id)
	s.vectord("", "prune", "--dry-run")
	s.vectord("", "config", "check")
	if code, _, errs := s.vectord("", "restore", id, "--site", "acme", "--env", "development", "--yes", "-v"); code != 0 {
		t.Fatalf("vectord restore = %d: %s", code, errs)
	}
	sqlFile := filepath.Join(s.dir, "import.sql")
	if err := os.WriteFile(sqlFile, []byte("-- MySQL dump 10.13\nSELECT 1;\n-- Dump completed on 2026-01-24 12:00:00\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A failed import and a failed pre-import snapshot.
	s.sim.SetFaults(acmeID, vectorsim.Faults{ImportFail: "ERROR 1064 (42000) at line 2: syntax error"})
	if code, _, _ := s.vectord("", "import", sqlFile, "--site", "acme", "--env", "development", "--yes", "--no-snapshot", "-v"); code != 1 {
		t.Errorf("vectord import that the API fails = %d, want 1", code)
	}
	if code, _, _ := s.vectord("", "import", sqlFile, "--site", "globex", "--yes", "-v"); code != 1 {
		t.Errorf("vectord import whose snapshot fails = %d, want 1", code)
	}
	s.sim.SetFaults(acmeID, vectorsim.Faults{})

	// A wrong API token: the API answers 401.
	if code, _, errs := s.vectord(s.wrongConfig(t, "api-token", s.wrongAPIToken), "backup", "--site", "acme", "--env", "production", "-v"); code != 1 || !strings.Contains(errs, "api.token") {
		t.Errorf("vectord backup with a wrong API token = %d %q, want 1 naming api.token", code, errs)
	}
	// A wrong S3 secret: the archive refuses every request. The backup is
	// kept locally (the archive copy is retried later); verify fails.
	if s.s3Secret != "" {
		env := []string{"VECTORD_TEST_S3_SECRET=" + s.wrongS3Secret}
		if code, _, errs := s.vectordEnv("", env, "backup", "--site", "acme", "--env", "production", "-v"); !strings.Contains(errs, "s3") {
			t.Errorf("vectord backup with a wrong S3 secret = %d and said nothing about s3: %s", code, errs)
		}
		if code, _, _ := s.vectordEnv("", env, "verify"); code != 1 {
			t.Errorf("vectord verify with a wrong S3 secret = %d, want 1", code)
		}
		s.vectordEnv("", env, "catalog", "rebuild")
	}
	// The catalog and storage agree at the end; the check's own output is
	// searched for secrets below with the rest.
	assertInvariants(t, s.listen, s.backupRoot(), func(args ...string) (int, string, string) {
		return s.vectord("", args...)
	})

	s.readTree(s.stateDir())
	s.readTree(s.backupRoot())
	if s.s3Dir != "" {
		s.readTree(s.s3Dir)
	}
	s.checkLeaks(t)
	s.checkModes(t, s.stateDir(), s.backupRoot())
}

// TestRunRefusesOpenListenWithoutToken: a daemon asked to listen where
// other hosts can reach it, without a control token, does not start: exit
// status 2 and an error naming server.token_file.
func TestRunRefusesOpenListenWithoutToken(t *testing.T) {
	_, port, _ := strings.Cut(freeAddr(t), ":")
	for _, listen := range []string{"0.0.0.0:" + port, "[::]:" + port, ":" + port} {
		t.Run(listen, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "config.yaml")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`api:
  base_url: http://127.0.0.1:1/api/v1/vector
  token: not-used
state_dir: %s
storage:
  local:
    path: %s
server:
  listen: %q
sites:
  - name: acme
    id: "1001"
`, filepath.Join(dir, "state"), filepath.Join(dir, "backups"), listen)), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stderr := secRunToEnd(t, vectordBin, "run", "--config", cfg)
			if code != 2 || !strings.Contains(stderr, "server.token_file") {
				t.Errorf("vectord run on %s without a control token = %d %q, want 2 naming server.token_file", listen, code, stderr)
			}
		})
	}
}

// TestConfigErrorsHideSecrets: a configuration that is wrong where a
// secret is written — a list or mapping for a token, a stray character,
// an unknown key next to it, a secret file with two lines — is refused by
// `config check` and `run` with status 2 and an error naming the key,
// never quoting the secret.
func TestConfigErrorsHideSecrets(t *testing.T) {
	secret := secSecret(t, "vapi")
	dir := t.TempDir()
	twoLines := filepath.Join(dir, "two-lines")
	if err := os.WriteFile(twoLines, []byte(secret+"\n"+secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, api, server, key string
	}{
		{"token as a list", "token: [" + secret + "]", "", "api.token"},
		{"token as a mapping", "token: {a: " + secret + "}", "", "api.token"},
		{"token with a control character", `token: "` + secret + `\x01"`, "", "api.token"},
		{"token with a space", `token: "` + secret + ` x"`, "", "api.token"},
		{"misspelt token key", "tokn: " + secret, "", "api.tokn"},
		{"bad duration beside the token", "token: " + secret + "\n  timeout: bogus", "", "api.timeout"},
		{"unterminated quote", "token: '" + secret, "", "line"},
		{"token file of two lines", "token_file: " + twoLines, "", "api.token_file"},
		{"control token file of two lines", "token: x", "  token_file: " + twoLines + "\n", "server.token_file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`api:
  base_url: http://127.0.0.1:1/api/v1/vector
  %s
state_dir: %s
storage:
  local:
    path: %s
server:
  listen: %s
%ssites:
  - name: acme
    id: "1001"
`, tt.api, filepath.Join(dir, "state"), filepath.Join(dir, "backups"), freeAddr(t), tt.server)), 0o600); err != nil {
				t.Fatal(err)
			}
			for _, command := range []string{"config check", "run"} {
				code, stderr := secRunToEnd(t, vectordBin, append(strings.Fields(command), "--config", cfg)...)
				if code != 2 || !strings.Contains(stderr, tt.key) {
					t.Errorf("vectord %s = %d %q, want 2 naming %s", command, code, stderr, tt.key)
				}
				if _, random, _ := strings.Cut(secret, "-"); strings.Contains(stderr, random[:16]) || strings.Contains(stderr, random[16:]) {
					t.Errorf("vectord %s quotes the token: %q", command, stderr)
				}
			}
		})
	}
}

// secRunToEnd runs a command with the test's environment to its end (at
// most 15 s) and returns its exit status and stderr.
func secRunToEnd(t *testing.T, name string, args ...string) (int, string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(daemonEnv(), secGORACE())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%s %s did not end within 15s:\n%s", filepath.Base(name), strings.Join(args, " "), stderr.String())
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// secFixture is a simulated account whose presigned URLs are recorded, and
// a configuration with distinctive secrets: the API token and the control
// token in files beside config.yaml, the S3 secret from the environment.
type secFixture struct {
	t      *testing.T
	sim    *vectorsim.Server
	dir    string // config.yaml and the token files; state/ and backups/
	cfg    string
	listen string

	apiToken, control, s3Secret                string
	wrongAPIToken, wrongControl, wrongS3Secret string
	s3Dir                                      string // the S3 server's files under this test's prefix, or ""

	mu       sync.Mutex
	captured []secCapture      // everything a user could see
	presign  map[string]string // presigned URL parameter values seen → which
}

// secCapture is one thing a user could see: a process's output, an HTTP
// answer or a file's bytes.
type secCapture struct {
	what string
	data []byte
}

func newSecFixture(t *testing.T) *secFixture {
	t.Helper()
	dir, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := &secFixture{
		t: t, dir: dir, cfg: filepath.Join(dir, "config.yaml"), listen: freeAddr(t),
		apiToken: secSecret(t, "vapi"), control: secSecret(t, "vctl"),
		wrongAPIToken: secSecret(t, "vbadapi"), wrongControl: secSecret(t, "vbadctl"),
		wrongS3Secret: secSecret(t, "vbads3"), presign: map[string]string{},
	}
	s.sim = vectorsim.New(vectorsim.Options{Token: s.apiToken, TempDir: dir, DumpSize: 16 << 10})
	s.sim.AddSite(acmeID, "2001")
	s.sim.AddSite(globexID)
	srv := httptest.NewServer(s.recordPresigned(s.sim))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { s.sim.Close() })

	s3 := ""
	if endpoint := os.Getenv("VECTORD_S3_ENDPOINT"); endpoint != "" {
		s.s3Secret = os.Getenv("VECTORD_S3_SECRET_KEY")
		prefix := "sec-" + hex.EncodeToString(secRandom(t, 6))
		s3 = fmt.Sprintf(`  s3:
    endpoint: %s
    region: %s
    bucket: %s
    prefix: %s/
    access_key_id: %s
    secret_access_key: ${VECTORD_TEST_S3_SECRET}
    force_path_style: true
`, endpoint, os.Getenv("VECTORD_S3_REGION"), os.Getenv("VECTORD_S3_BUCKET"), prefix, os.Getenv("VECTORD_S3_ACCESS_KEY"))
		if d := os.Getenv("VECTORD_S3_DIR"); d != "" {
			s.s3Dir = filepath.Join(d, "data", os.Getenv("VECTORD_S3_BUCKET"), prefix)
		}
	} else if os.Getenv("CI") != "" {
		t.Fatal(`no S3 server: run eval "$(scripts/s3server.sh start)" first (CI is set, so the wrong-S3-secret case may not be skipped)`)
	} else {
		t.Log(`no S3 server (VECTORD_S3_ENDPOINT unset): the S3 secret and a wrong S3 secret are not exercised`)
	}
	s.writeSecret(t, "api-token", s.apiToken)
	s.writeSecret(t, "control-token", s.control)
	s.writeConfig(t, srv.URL, s3)
	return s
}

func (s *secFixture) stateDir() string   { return filepath.Join(s.dir, "state") }
func (s *secFixture) backupRoot() string { return filepath.Join(s.dir, "backups") }

// writeConfig writes config.yaml for the simulator at simURL, with the
// storage.s3 section s3 (none when "").
func (s *secFixture) writeConfig(t *testing.T, simURL, s3 string) {
	t.Helper()
	cfg := fmt.Sprintf(`api:
  base_url: %s/api/v1/vector
  token_file: %s
  poll_interval: 20ms
  poll_max_interval: 100ms
  requests_per_minute: 6000
  db_operations_per_hour: 1000
state_dir: %s
storage:
  local:
    path: %s
%sserver:
  listen: %s
  token_file: %s
shutdown_timeout: 20s
defaults:
  schedule: "@every 1h"
  jitter: 0s
sites:
%s`, simURL, filepath.Join(s.dir, "api-token"), s.stateDir(), s.backupRoot(), s3, s.listen,
		filepath.Join(s.dir, "control-token"), defaultSites)
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
}

// wrongConfig returns the path of a copy of the configuration whose token
// file name (api-token or control-token) holds token instead.
func (s *secFixture) wrongConfig(t *testing.T, name, token string) string {
	t.Helper()
	cfg, err := os.ReadFile(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	wrong := filepath.Join(s.dir, "wrong-"+name)
	if err := os.WriteFile(wrong, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.dir, "config-wrong-"+name+".yaml")
	cfg = bytes.Replace(cfg, []byte(filepath.Join(s.dir, name)+"\n"), []byte(wrong+"\n"), 1)
	if err := os.WriteFile(path, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (s *secFixture) writeSecret(t *testing.T, name, secret string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, name), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

// secRandom returns n random bytes.
func secRandom(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// secSecret returns a distinctive secret: prefix, a dash and 32 random hex
// digits.
func secSecret(t *testing.T, prefix string) string {
	t.Helper()
	return prefix + "-" + hex.EncodeToString(secRandom(t, 16))
}

// secPresignedParam matches the values of a presigned URL's signature and
// credential wherever they appear: in a request's query or in a JSON answer
// (where encoding/json writes & as \u0026).
var secPresignedParam = regexp.MustCompile(`(?i)X-Amz-(Signature|Credential)=([^&"\\\s]+)`)

// recordPresigned wraps the simulator: it notes the signature and
// credential of every presigned URL the API hands out and every one a
// client presents.
func (s *secFixture) recordPresigned(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.notePresigned(r.URL.RawQuery)
		if !strings.HasPrefix(r.URL.Path, "/api/") {
			h.ServeHTTP(w, r)
			return
		}
		tw := &secTeeWriter{ResponseWriter: w}
		h.ServeHTTP(tw, r)
		s.notePresigned(tw.body.String())
	})
}

func (s *secFixture) notePresigned(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range secPresignedParam.FindAllStringSubmatch(text, -1) {
		name := "a presigned URL's X-Amz-" + m[1]
		s.presign[m[2]] = name
		if dec, err := url.QueryUnescape(m[2]); err == nil {
			s.presign[dec] = name
			if key, _, ok := strings.Cut(dec, "/"); ok && strings.EqualFold(m[1], "credential") {
				s.presign[key] = "a presigned URL's access key id"
			}
		}
	}
}

// secTeeWriter keeps a copy of an API answer's body.
type secTeeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *secTeeWriter) Write(p []byte) (int, error) {
	w.body.Write(p)
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the real writer.
func (w *secTeeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *secFixture) capture(what string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.captured = append(s.captured, secCapture{what, bytes.Clone(data)})
}

// vectord runs a command of the CLI with the fixture's configuration (or
// cfg when not "") to its end and captures its output.
func (s *secFixture) vectord(cfg string, args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	return s.vectordEnv(cfg, nil, args...)
}

// vectordEnv is vectord with env added to the command's environment.
func (s *secFixture) vectordEnv(cfg string, env []string, args ...string) (code int, stdout, stderr string) {
	s.t.Helper()
	path := s.cfg
	if cfg != "" {
		path = cfg
	}
	var out, errs bytes.Buffer
	cmd := exec.Command(vectordBin, append(args, "--config", path)...)
	cmd.Env = append(append(daemonEnv(), "VECTORD_TEST_S3_SECRET="+s.s3Secret, secGORACE()), env...)
	cmd.Stdout, cmd.Stderr = &out, &errs
	done := make(chan struct{})
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start vectord %s: %v", args[0], err)
	}
	go func() {
		cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		s.t.Fatalf("vectord %s did not end within 60s:\n%s", strings.Join(args, " "), errs.String())
	}
	what := "vectord " + strings.Join(args, " ")
	s.capture(what+": stdout", out.Bytes())
	s.capture(what+": stderr", errs.Bytes())
	if strings.Contains(errs.String(), "WARNING: DATA RACE") {
		s.t.Errorf("%s reported a data race:\n%s", what, errs.String())
	}
	return cmd.ProcessState.ExitCode(), out.String(), errs.String()
}

// secDaemon is a running `vectord run` whose stderr is captured.
type secDaemon struct {
	s      *secFixture
	cmd    *exec.Cmd
	stderr *syncBuffer
	done   chan struct{}
}

func (s *secFixture) startDaemon() *secDaemon {
	s.t.Helper()
	d := &secDaemon{s: s, stderr: &syncBuffer{}, done: make(chan struct{})}
	d.cmd = exec.Command(vectordBin, "run", "--config", s.cfg)
	d.cmd.Env = append(daemonEnv(), "VECTORD_TEST_S3_SECRET="+s.s3Secret, secGORACE())
	var stdout syncBuffer
	d.cmd.Stdout, d.cmd.Stderr = &stdout, d.stderr
	if err := d.cmd.Start(); err != nil {
		s.t.Fatalf("start vectord run: %v", err)
	}
	go func() {
		d.cmd.Wait()
		s.capture("vectord run: stdout", []byte(stdout.String()))
		s.capture("vectord run: stderr", []byte(d.stderr.String()))
		close(d.done)
	}()
	s.t.Cleanup(func() {
		select {
		case <-d.done:
		default:
			d.cmd.Process.Kill()
			<-d.done
		}
		if strings.Contains(d.stderr.String(), "WARNING: DATA RACE") {
			s.t.Errorf("the daemon reported a data race:\n%s", d.stderr)
		} else if s.t.Failed() {
			s.t.Logf("vectord's log:\n%s", tail(d.stderr.String(), 60))
		}
	})
	waitFor(s.t, "vectord /readyz", 15*time.Second, func() bool {
		select {
		case <-d.done:
			s.t.Fatalf("vectord exited during start-up (%v):\n%s", d.cmd.ProcessState, d.stderr)
		default:
		}
		return httpStatus("http://"+s.listen+"/readyz") == http.StatusOK
	})
	return d
}

// reload sends SIGHUP and waits for the daemon to log want once more than
// before.
func (d *secDaemon) reload(t *testing.T, want string) {
	t.Helper()
	before := strings.Count(d.stderr.String(), want)
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("send SIGHUP to vectord: %v", err)
	}
	waitFor(t, fmt.Sprintf("vectord to log %q after SIGHUP", want), 10*time.Second, func() bool {
		return strings.Count(d.stderr.String(), want) > before
	})
}

func (d *secDaemon) stopClean(t *testing.T) {
	t.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("send SIGTERM to vectord: %v", err)
	}
	select {
	case <-d.done:
	case <-time.After(25 * time.Second):
		t.Fatalf("vectord did not exit within 25s of SIGTERM:\n%s", d.stderr)
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("vectord exit status after SIGTERM = %d, want 0:\n%s", code, d.stderr)
	}
}

// do sends one request to the daemon with auth as its Authorization header
// (none when "") and captures the answer.
func (s *secFixture) do(method, path, auth, body string) (int, []byte) {
	s.t.Helper()
	code, _, data := s.doHead(method, path, auth, body)
	return code, data
}

// doHead is do that also returns the answer's header.
func (s *secFixture) doHead(method, path, auth, body string) (int, http.Header, []byte) {
	s.t.Helper()
	req, err := http.NewRequest(method, "http://"+s.listen+path, strings.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("%s %s: read the answer: %v", method, path, err)
	}
	var head bytes.Buffer
	resp.Header.Write(&head)
	s.capture(fmt.Sprintf("%s %s (%d): headers", method, path, resp.StatusCode), head.Bytes())
	s.capture(fmt.Sprintf("%s %s (%d): body", method, path, resp.StatusCode), data)
	return resp.StatusCode, resp.Header, data
}

// get is do for a GET that must answer 200; it returns the body.
func (s *secFixture) get(path, auth string) []byte {
	s.t.Helper()
	code, body := s.do("GET", path, auth, "")
	if code != http.StatusOK {
		s.t.Fatalf("GET %s = %d %s", path, code, body)
	}
	return body
}

// readTree captures the raw bytes of every regular file under root.
func (s *secFixture) readTree(root string) {
	s.t.Helper()
	err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		s.capture("file "+p, data)
		return nil
	})
	if err != nil {
		s.t.Fatalf("read %s: %v", root, err)
	}
}

// checkLeaks fails the test for every captured output that holds a secret
// or a presigned URL's signature or credential, or names those parameters
// at all.
func (s *secFixture) checkLeaks(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	secrets := map[string]string{
		s.apiToken: "the API token", s.control: "the control token",
		s.wrongAPIToken: "a wrong API token", s.wrongControl: "a wrong control token",
		s.wrongS3Secret: "a wrong S3 secret",
	}
	if s.s3Secret != "" {
		secrets[s.s3Secret] = "the S3 secret"
	}
	// Half a secret is a leak too (a log that shortens or cuts a token).
	for secret, name := range maps.Clone(secrets) {
		if _, random, ok := strings.Cut(secret, "-"); ok {
			secrets[random[:len(random)/2]] = "half of " + name
			secrets[random[len(random)/2:]] = "half of " + name
		}
	}
	signatures := 0
	for v, name := range s.presign {
		if len(v) >= 16 { // not a short fragment that could occur by chance
			secrets[v] = name
			if strings.HasSuffix(name, "Signature") {
				signatures++
			}
		}
	}
	if signatures < 3 {
		t.Errorf("only %d presigned URL signatures were recorded; the simulator's download and upload URLs were not seen", signatures)
	}
	sources := map[string]bool{}
	for _, c := range s.captured {
		kind, _, _ := strings.Cut(c.what, " ")
		sources[kind] = true
		low := bytes.ToLower(c.data)
		for _, param := range []string{"x-amz-signature=", "x-amz-credential="} {
			if i := bytes.Index(low, []byte(param)); i >= 0 {
				t.Errorf("%s holds a presigned URL's %s parameter: …%s…", c.what, param, secContext(c.data, i, s.redact))
			}
		}
		for secret, name := range secrets {
			if i := bytes.Index(c.data, []byte(secret)); i >= 0 {
				t.Errorf("%s holds %s: …%s…", c.what, name, secContext(c.data, i, s.redact))
			}
		}
	}
	for _, kind := range []string{"vectord", "GET", "POST", "file"} {
		if !sources[kind] {
			t.Errorf("nothing of kind %q was captured; the leak check saw %v", kind, sources)
		}
	}
}

// redact replaces every secret in s by its name, for failure messages.
func (s *secFixture) redact(text string) string {
	for secret, name := range map[string]string{s.apiToken: "<API token>", s.control: "<control token>", s.wrongAPIToken: "<wrong API token>", s.wrongControl: "<wrong control token>"} {
		text = strings.ReplaceAll(text, secret, name)
	}
	return text
}

// secContext is data around i, printable, with secrets named instead of
// shown.
func secContext(data []byte, i int, redact func(string) string) string {
	from, to := max(0, i-80), min(len(data), i+80)
	return redact(strings.ToValidUTF8(strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '.'
		}
		return r
	}, string(data[from:to])), "."))
}

// checkModes fails the test for every file under roots that is not 0600 and
// every directory (roots included) that is not 0700.
func (s *secFixture) checkModes(t *testing.T, roots ...string) {
	t.Helper()
	var bad []string
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, err := e.Info()
			if err != nil {
				return err
			}
			want := fs.FileMode(0o600)
			if info.IsDir() {
				want = 0o700
			}
			if got := info.Mode().Perm(); got != want {
				bad = append(bad, fmt.Sprintf("%s is %#o, want %#o", p, got, want))
			}
			return nil
		})
		if err != nil {
			t.Fatalf("walk %s: %v", root, err)
		}
	}
	sort.Strings(bad)
	for _, b := range bad {
		t.Error(b)
	}
}

// secGORACE is the GORACE setting for the processes the test starts: the
// race detector's options of the test's environment, without the second the
// race runtime otherwise waits at every exit (atexit_sleep_ms).
func secGORACE() string {
	return "GORACE=" + strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0")
}

func secExportRequests(sim *vectorsim.Server) int {
	n := 0
	for _, c := range sim.Stats().ExportRequests {
		n += c
	}
	return n
}
