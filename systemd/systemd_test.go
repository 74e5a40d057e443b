package systemd_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/config"
)

// unitPath is the unit as shipped; execStart is its ExecStart, which
// scripts/install.sh rewrites when PREFIX is not /usr/local.
const (
	unitPath  = "vectord.service"
	execStart = "/usr/local/bin/vectord run --config /etc/vectord/config.yaml"
)

// maxExposure is the highest `systemd-analyze security` exposure the unit
// may have (0 is fully locked down, 10 is an unsandboxed root service).
const maxExposure = 2.0

// systemdAnalyze returns the path of systemd-analyze, skipping the test
// where it is missing, except in CI, where that is a failure.
func systemdAnalyze(t testing.TB) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("systemd-analyze is required in CI (apt-get install systemd): %v", err)
		}
		t.Skipf("systemd-analyze not installed: %v", err)
	}
	return path
}

// unit is a parsed unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t testing.TB, path string) unit {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || line[0] == '#' || line[0] == ';':
		case line[0] == '[' && line[len(line)-1] == ']':
			section = line[1 : len(line)-1]
			u[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" || strings.HasSuffix(line, `\`) {
				t.Fatalf("%s:%d: %q is not a key=value line in a section", path, n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return u
}

// one returns the single value of key in [Service], failing if it is set
// more or less than once.
func (u unit) one(t testing.TB, key string) string {
	t.Helper()
	v := u["Service"][key]
	if len(v) != 1 {
		t.Fatalf("%s: [Service] %s is set %d times, want once", unitPath, key, len(v))
	}
	return v[0]
}

// withExecStart writes a copy of the unit, its ExecStart running binary,
// into a new directory and returns its path.
func withExecStart(t testing.TB, binary string) string {
	t.Helper()
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	old := "\nExecStart=" + execStart + "\n"
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no line ExecStart=%s", unitPath, execStart)
	}
	data = []byte(strings.Replace(string(data), old, "\nExecStart="+binary+" run --config /etc/vectord/config.yaml\n", 1))
	path := filepath.Join(t.TempDir(), "vectord.service")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// buildVectord builds the vectord binary into a temporary directory.
func buildVectord(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "vectord")
	out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/builtfast/vectord/cmd/vectord").CombinedOutput()
	if err != nil {
		t.Fatalf("go build vectord: %v\n%s", err, out)
	}
	return bin
}

func analyze(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, systemdAnalyze(t), args...).CombinedOutput()
	return string(out), err
}

// TestUnitVerifies runs systemd-analyze verify on the unit with a real
// vectord binary: it must load without a warning. A copy whose binary is
// missing must fail, which shows the check checks.
func TestUnitVerifies(t *testing.T) {
	systemdAnalyze(t)
	bin := buildVectord(t)
	if out, err := analyze(t, "verify", "--man=no", withExecStart(t, bin)); err != nil || out != "" {
		t.Errorf("systemd-analyze verify vectord.service: %v\n%s\nwant success and no output", err, out)
	}
	missing := filepath.Join(t.TempDir(), "vectord")
	if out, err := analyze(t, "verify", "--man=no", withExecStart(t, missing)); err == nil || !strings.Contains(out, missing) {
		t.Errorf("systemd-analyze verify with ExecStart=%s: %v\n%s\nwant a failure naming the missing binary", missing, err, out)
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for vectord\.service: ([0-9]+(?:\.[0-9]+)?)`)

// TestUnitExposure checks the unit's sandboxing with systemd-analyze
// security, offline: its overall exposure stays under maxExposure.
func TestUnitExposure(t *testing.T) {
	systemdAnalyze(t)
	out, err := analyze(t, "security", "--offline=true", withExecStart(t, "/bin/true"))
	if err != nil {
		t.Fatalf("systemd-analyze security --offline=true vectord.service: %v\n%s", err, out)
	}
	m := exposureRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security printed no overall exposure level:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("systemd-analyze security exposure of vectord.service: %.1f", score)
	if score >= maxExposure {
		t.Errorf("exposure = %.1f, want under %.1f:\n%s", score, maxExposure, out)
	}
}

// TestUnitSettings checks the settings the daemon and the documentation
// rely on.
func TestUnitSettings(t *testing.T) {
	u := parseUnit(t, unitPath)
	tests := []struct {
		key, want, why string
	}{
		{"Type", "notify", "vectord sends READY=1 once it serves"},
		{"NotifyAccess", "main", "only the daemon itself notifies"},
		{"WatchdogSec", "60s", "the scheduler loop pings every 30s"},
		{"ExecStart", execStart, "the binary and configuration scripts/install.sh installs"},
		{"ExecReload", "/bin/kill -HUP $MAINPID", "SIGHUP reloads the configuration"},
		{"Restart", "on-failure", "a crashed daemon comes back; a stopped one stays stopped"},
		{"RestartPreventExitStatus", "2", "exit status 2 is a bad configuration, which no restart fixes"},
		{"User", "vectord", "the user vectord.sysusers and install.sh create"},
		{"StateDirectory", "vectord", "state_dir: /var/lib/vectord"},
		{"StateDirectoryMode", "0700", "backups are readable by vectord only"},
		{"UMask", "0077", "backup files are created 0600"},
		{"LoadCredential", "api-token:/etc/vectord/api-token", "config.yaml reads ${CREDENTIALS_DIRECTORY}/api-token"},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX", "HTTPS out, HTTP in, the notify socket"},
		{"ProtectSystem", "strict", "the daemon writes only its state directory"},
		{"CapabilityBoundingSet", "", "it needs no capability"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			if got := u.one(t, tt.key); got != tt.want {
				t.Errorf("%s=%s, want %s (%s)", tt.key, got, tt.want, tt.why)
			}
		})
	}
	if got := u["Install"]["WantedBy"]; len(got) != 1 || got[0] != "multi-user.target" {
		t.Errorf("[Install] WantedBy=%v, want multi-user.target (systemctl enable)", got)
	}
}

// TestStopTimeoutCoversShutdown checks that systemd waits longer than the
// daemon lets running backups finish on SIGTERM, so they end cleanly
// instead of being killed.
func TestStopTimeoutCoversShutdown(t *testing.T) {
	stop := parseTimespan(t, parseUnit(t, unitPath).one(t, "TimeoutStopSec"))
	cfg := loadServiceConfig(t, filepath.Join(t.TempDir(), "credentials"), "")
	for name, d := range map[string]time.Duration{
		"the default shutdown_timeout":                  config.Default().ShutdownTimeout,
		"shutdown_timeout in the starter configuration": cfg.ShutdownTimeout,
	} {
		if stop <= d {
			t.Errorf("TimeoutStopSec = %v, want more than %s (%v)", stop, name, d)
		}
	}
}

// parseTimespan parses the systemd time spans the unit uses: a number with
// an optional s, min or h unit.
func parseTimespan(t testing.TB, s string) time.Duration {
	t.Helper()
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"min", time.Minute}, {"s", time.Second}, {"h", time.Hour}, {"", time.Second}}
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.Atoi(n)
			if err != nil {
				t.Fatalf("time span %q: %v", s, err)
			}
			return time.Duration(v) * u.unit
		}
	}
	panic("unreachable")
}

// starterConfig returns the configuration scripts/install.sh puts in
// /etc/vectord/config.yaml, installing into a temporary DESTDIR.
func starterConfig(t testing.TB) []byte {
	t.Helper()
	dest := t.TempDir()
	if out, err := install(t, dest, "BINARY="+fakeBinary(t)); err != nil {
		t.Fatalf("install.sh: %v\n%s", err, out)
	}
	return readFile(t, filepath.Join(dest, "etc/vectord/config.yaml"))
}

// loadServiceConfig loads the starter configuration plus extra, as the
// service would, with the API token among the credentials in dir.
func loadServiceConfig(t testing.TB, dir, extra string) *config.Config {
	t.Helper()
	cfg, err := tryLoadServiceConfig(t, dir, extra)
	if err != nil {
		t.Fatalf("load the starter configuration as the service: %v", err)
	}
	return cfg
}

func tryLoadServiceConfig(t testing.TB, dir, extra string) (*config.Config, error) {
	t.Helper()
	data := starterConfig(t)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "api-token"), []byte("test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, append(data, extra...), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CREDENTIALS_DIRECTORY", dir)
	return config.Load(path)
}

// TestServiceConfigReadsCredential checks that the starter configuration
// takes the API token from the credential the unit loads.
func TestServiceConfigReadsCredential(t *testing.T) {
	name, _, ok := strings.Cut(parseUnit(t, unitPath).one(t, "LoadCredential"), ":")
	if !ok || name != "api-token" {
		t.Fatalf("LoadCredential names credential %q, want api-token", name)
	}
	dir := filepath.Join(t.TempDir(), "credentials")
	cfg := loadServiceConfig(t, dir, "")
	if cfg.API.Token != "test-token" || cfg.API.TokenFile != filepath.Join(dir, name) {
		t.Errorf("api token from %q = %q, want %q from %s", cfg.API.TokenFile, cfg.API.Token, "test-token", filepath.Join(dir, name))
	}
	if cfg.StateDir != "/var/lib/vectord" || cfg.Storage.Local == nil || !strings.HasPrefix(cfg.Storage.Local.Path, "/var/lib/vectord/") {
		t.Errorf("state_dir %q and storage.local %+v, want both in the unit's StateDirectory /var/lib/vectord", cfg.StateDir, cfg.Storage.Local)
	}
}

// TestServiceConfigOutsideTheService checks that the command line, which
// runs without CREDENTIALS_DIRECTORY, reads the token from /etc/vectord,
// whether or not VECTOR_API_TOKEN (which config.example.yaml reads) is set:
// the starter names the token once, so it is never "both set".
func TestServiceConfigOutsideTheService(t *testing.T) {
	data := starterConfig(t)
	for _, env := range []map[string]string{{}, {"VECTOR_API_TOKEN": "exported-token"}} {
		cfg, err := config.Parse(data, "config.yaml", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
		if err != nil {
			t.Fatalf("parse the starter configuration with environment %v: %v", env, err)
		}
		if want := "/etc/vectord/api-token"; cfg.API.TokenFile != want || cfg.API.Token != "" {
			t.Errorf("with environment %v: token_file = %q, token set %v; want %q and no inline token", env, cfg.API.TokenFile, cfg.API.Token != "", want)
		}
	}
}

// TestStarterConfigIsTheExample checks that the starter configuration is
// config.example.yaml, the file the README documents and edits, but for
// its header and the API token's lines.
func TestStarterConfigIsTheExample(t *testing.T) {
	example := strings.Split(string(readFile(t, "../config.example.yaml")), "\n")
	starter := strings.Split(string(starterConfig(t)), "\n")
	var dropped, added []string
	for _, l := range example {
		if !slices.Contains(starter, l) {
			dropped = append(dropped, l)
		}
	}
	for _, l := range starter {
		if !slices.Contains(example, l) && !strings.HasPrefix(l, "#") && !strings.HasPrefix(l, "  #") {
			added = append(added, l)
		}
	}
	wantDropped := []string{"  token: ${VECTOR_API_TOKEN}", "  # token_file: /etc/vectord/api-token"}
	wantAdded := []string{"  token_file: ${CREDENTIALS_DIRECTORY:-/etc/vectord}/api-token"}
	if !slices.Equal(dropped, wantDropped) || !slices.Equal(added, wantAdded) {
		t.Errorf("the starter configuration drops %q and adds %q to config.example.yaml; want it to drop %q and add %q", dropped, added, wantDropped, wantAdded)
	}
}

// TestBadConfigIsNotRestarted checks that vectord run exits with a status
// the unit's RestartPreventExitStatus names when its configuration is bad,
// so systemd does not restart it every RestartSec, and that a crash still
// is restarted (Restart=on-failure).
func TestBadConfigIsNotRestarted(t *testing.T) {
	prevent := strings.Fields(parseUnit(t, unitPath).one(t, "RestartPreventExitStatus"))
	bin := buildVectord(t)
	dir := t.TempDir()
	bad := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(bad, []byte("api:\n  token: t\n  timeout: soon\nsites: [{name: a, id: '1'}]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, args := range map[string][]string{
		"invalid file": {"run", "--config", bad},
		"missing file": {"run", "--config", filepath.Join(dir, "missing.yaml")},
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, args...)
			cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
			out, err := cmd.CombinedOutput()
			code := cmd.ProcessState.ExitCode()
			if err == nil || !slices.Contains(prevent, strconv.Itoa(code)) {
				t.Errorf("vectord %s = exit %d (%v), want one of RestartPreventExitStatus=%s\n%s", strings.Join(args, " "), code, err, strings.Join(prevent, " "), out)
			}
		})
	}
	if slices.Contains(prevent, "1") {
		t.Errorf("RestartPreventExitStatus=%s includes 1, the status of a failed operation, which a restart may fix", strings.Join(prevent, " "))
	}
}
