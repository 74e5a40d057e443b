package systemd_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// quickStart returns the commands of the README's quick start: the first sh
// block under "## Quick start".
func quickStart(t testing.TB) string {
	t.Helper()
	f, err := os.Open("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var block []string
	state := 0 // 0 before the section, 1 in it, 2 in its sh block
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case state == 0 && line == "## Quick start":
			state = 1
		case state == 1 && strings.HasPrefix(line, "## "):
			t.Fatal("README.md: the Quick start section has no sh block")
		case state == 1 && line == "```sh":
			state = 2
		case state == 2 && line == "```":
			return strings.Join(block, "\n") + "\n"
		case state == 2:
			block = append(block, line)
		}
	}
	t.Fatal("README.md: no Quick start section with an sh block")
	return ""
}

// The stand-ins for what the quick start needs of a machine. Each logs its
// arguments to $QS_LOG, one line per call.
const (
	// sudo runs the command as the test's user, in the reset environment
	// sudo gives (env_reset, Debian's secure_path), plus what maps the
	// temporary root onto /: DESTDIR for make install, VECTORD_CONFIG for
	// the default /etc/vectord/config.yaml compiled into vectord.
	sudoStub = `#!/bin/sh
user=root
while [ $# -gt 0 ]; do
	case "$1" in
	-u) user=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "sudo (quick start test): unsupported option $1" >&2; exit 1 ;;
	*) break ;;
	esac
done
echo "sudo -u $user $*" >>"$QS_LOG"
exec env -i QS_SUDO_USER="$user" PATH="$QS_STUBS:$QS_ROOT/usr/local/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
	HOME="$QS_ROOT/var/lib/vectord" LANG=C.UTF-8 QS_LOG="$QS_LOG" QS_STUBS="$QS_STUBS" QS_ROOT="$QS_ROOT" \
	QS_SIM="$QS_SIM" QS_LISTEN="$QS_LISTEN" QS_SOURCE="$QS_SOURCE" QS_REAL_GIT="$QS_REAL_GIT" \
	DESTDIR="$QS_ROOT" VECTORD_CONFIG="$QS_ROOT/etc/vectord/config.yaml" "$@"
`
	// sudoedit makes the edit a person would: the example site stays (the
	// simulator serves its ids); the API is the simulator; paths move into
	// the temporary root and the daemon's port to a free one.
	sudoeditStub = `#!/bin/sh
echo "sudoedit $*" >>"$QS_LOG"
grep -q '^  base_url: https://api.builtfast.com/api/v1/vector' "$1" || { echo "sudoedit (quick start test): $1 has no base_url line to point at the simulator" >&2; exit 1; }
sed -i -e "s|https://api.builtfast.com/api/v1/vector|$QS_SIM|" \
	-e "s|/var/lib/vectord|$QS_ROOT/var/lib/vectord|g" \
	-e "s|/etc/vectord|$QS_ROOT/etc/vectord|g" \
	-e "s|127.0.0.1:9469|$QS_LISTEN|" "$1"
`
	// git clone copies the working tree under test.
	gitStub = `#!/bin/sh
if [ "$1" = clone ]; then
	echo "git $*" >>"$QS_LOG"
	dir=${3:-$(basename "$2" .git)}
	cp -a "$QS_SOURCE" "$dir"
	exit 0
fi
exec "$QS_REAL_GIT" "$@"
`
	// chown to the vectord user, which does not exist here, is recorded.
	chownStub = `#!/bin/sh
echo "chown $*" >>"$QS_LOG"
case "$1" in
vectord:*|vectord) exit 0 ;;
esac
exec /bin/chown "$@"
`
	// vectord runs the installed binary as the vectord user only, as on a
	// real machine: /etc/vectord is vectord's, mode 0700, and anything else
	// (a person's own account, root) would not read it or would leave files
	// in /var/lib/vectord that the daemon cannot.
	vectordStub = `#!/bin/sh
if [ "$QS_SUDO_USER" != vectord ]; then
	echo "vectord (quick start test): run as ${QS_SUDO_USER:-the invoking user}, not as vectord: /etc/vectord/config.yaml: permission denied" >&2
	exit 1
fi
exec "$QS_ROOT/usr/local/bin/vectord" "$@"
`
	recordStub = `#!/bin/sh
echo "$(basename "$0") $*" >>"$QS_LOG"
`
)

// TestQuickStart runs the README's quick start as written, on a machine
// made of stand-ins: a temporary directory is /, the simulated Vector API
// (serving the example configuration's site and environment ids) is the
// Vector API, and sudo, sudoedit, apt-get, systemctl, git clone and chown
// to the vectord user are stubs, and vectord refuses to run but as the
// vectord user (through sudo -u vectord). The commands are run by bash with only
// their absolute paths under /etc/vectord, /var/lib/vectord and /usr/local
// moved into that directory; make, the Makefile, scripts/install.sh and
// vectord are the real ones. It checks that the quick start ends with a
// configuration check that passes, a backup of the simulated database
// written to acme-production.sql, and the service enabled.
func TestQuickStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds vectord from a copy of the working tree")
	}
	realGit, err := exec.LookPath("git")
	if err != nil {
		t.Skip("git is not on PATH")
	}
	for _, tool := range []string{"make", "bash", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH", tool)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()

	root, home, stubs := t.TempDir(), t.TempDir(), t.TempDir()
	for _, d := range []string{"etc/systemd/system", "usr/local/bin", "usr/local/share", "var/lib"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil { // as on a fresh machine
			t.Fatal(err)
		}
	}
	source := copyWorkingTree(ctx, t, filepath.Join(t.TempDir(), "vectord"))
	const token = "quick-start-token-1f4c"
	sim := vectorsim.New(vectorsim.Options{Token: token, TempDir: t.TempDir(), DumpSize: 64 << 10})
	sim.AddSite("12345", "67890") // config.example.yaml's acme and acme/production
	api := httptest.NewServer(sim)
	t.Cleanup(api.Close)

	log := filepath.Join(t.TempDir(), "calls.log")
	for name, body := range map[string]string{
		"sudo": sudoStub, "sudoedit": sudoeditStub, "git": gitStub, "chown": chownStub,
		"apt-get": recordStub, "systemctl": recordStub, "vectord": vectordStub,
	} {
		if err := os.WriteFile(filepath.Join(stubs, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	script := quickStart(t)
	moved := strings.NewReplacer(
		"/etc/vectord", root+"/etc/vectord",
		"/var/lib/vectord", root+"/var/lib/vectord",
		"/usr/local/", root+"/usr/local/",
	).Replace(script)
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", moved)
	cmd.Dir = home
	cmd.Env = append(goEnv(ctx, t),
		"HOME="+home,
		"PATH="+stubs+":"+root+"/usr/local/bin:"+os.Getenv("PATH"),
		"LANG=C.UTF-8",
		"VECTOR_API_TOKEN="+token,
		"QS_LOG="+log, "QS_STUBS="+stubs, "QS_ROOT="+root, "QS_SOURCE="+source, "QS_REAL_GIT="+realGit,
		"QS_SIM="+api.URL+"/api/v1/vector", "QS_LISTEN="+freeAddr(t),
	)
	out, err := cmd.CombinedOutput()
	callLog, _ := os.ReadFile(log) // none if no stand-in was called
	calls := string(callLog)
	if err != nil {
		t.Fatalf("the quick start failed: %v\n--- commands (paths moved into %s):\n%s--- output:\n%s--- calls to the stand-ins:\n%s", err, root, moved, out, calls)
	}
	t.Logf("the quick start's output:\n%s", out)

	// The configuration check passes and shows the example's environments.
	checkOut := runAsService(ctx, t, root, "config", "check")
	for _, want := range []string{`configuration is valid`, `(?m)^acme\s+production\s`, `(?m)^acme\s+development\s`} {
		if !regexp.MustCompile(want).MatchString(checkOut) {
			t.Errorf("vectord config check after the quick start printed:\n%s\nwant a match for %s", checkOut, want)
		}
	}
	// The backup came from the simulated API, was recorded, and was
	// written out by vectord cat.
	if n := sim.Stats().ExportRequests[vectorsim.EnvKey{Site: "12345", Env: "67890"}]; n != 1 {
		t.Errorf("the simulator served %d export requests for acme/production, want 1", n)
	}
	dump := readFileString(t, filepath.Join(home, "vectord", "acme-production.sql"))
	if len(dump) != 64<<10 || !strings.Contains(dump, "-- Dump completed") {
		t.Errorf("acme-production.sql holds %d bytes ending %q, want the simulator's 64 KiB dump", len(dump), dump[max(0, len(dump)-60):])
	}
	if list := runAsService(ctx, t, root, "list"); !regexp.MustCompile(`(?m)^\w+\s+acme\s+production\s+manual\s`).MatchString(list) {
		t.Errorf("vectord list after the quick start printed:\n%s\nwant the acme production backup", list)
	}
	// Every command that needs root went through sudo, and the service was
	// enabled last.
	lines := strings.Split(strings.TrimSpace(calls), "\n")
	for _, want := range []string{
		"sudo -u root make install",
		"sudo -u vectord vectord config check",
		"sudo -u vectord vectord backup --site acme --env production",
		"sudo -u root systemctl enable --now vectord",
		"systemctl enable --now vectord",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("the quick start made no call %q; calls:\n%s", want, calls)
		}
	}
	if last := lines[len(lines)-1]; last != "systemctl enable --now vectord" {
		t.Errorf("the quick start's last call = %q, want it to enable the service", last)
	}
	if strings.Contains(string(out), "both set") {
		t.Errorf("the quick start's output mentions a secret set twice:\n%s", out)
	}
}

// runAsService runs a vectord command as the quick start does, through the
// sudo stand-in's environment, and returns its output.
func runAsService(ctx context.Context, t *testing.T, root string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, filepath.Join(root, "usr/local/bin/vectord"), args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + filepath.Join(root, "var/lib/vectord"), "VECTORD_CONFIG=" + filepath.Join(root, "etc/vectord/config.yaml")}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("vectord %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyWorkingTree copies what a clone of the repository under test holds
// (its tracked files and the untracked ones git does not ignore, as they
// are now) to dst, and returns dst.
func copyWorkingTree(ctx context.Context, t *testing.T, dst string) string {
	t.Helper()
	top, err := exec.CommandContext(ctx, "git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skipf("not in a git working tree: %v", err)
	}
	src := strings.TrimSpace(string(top))
	list, err := exec.CommandContext(ctx, "git", "-C", src, "ls-files", "-z", "--cached", "--others", "--exclude-standard").Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for name := range strings.SplitSeq(strings.TrimSuffix(string(list), "\x00"), "\x00") {
		from := filepath.Join(src, name)
		fi, err := os.Lstat(from)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() {
			continue
		}
		to := filepath.Join(dst, name)
		if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := copyFile(from, to, fi.Mode().Perm()); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func copyFile(from, to string, perm os.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// goEnv returns the Go settings of the test's own go command (its caches
// and toolchain), so that make build in the copy does not start cold under
// the quick start's fresh HOME.
func goEnv(ctx context.Context, t *testing.T) []string {
	t.Helper()
	keys := []string{"GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "GOSUMDB", "GOFLAGS", "GOTOOLCHAIN", "GONOSUMDB", "GOPRIVATE"}
	out, err := exec.CommandContext(ctx, "go", append([]string{"env"}, keys...)...).Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var env []string
	for i, v := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		if i < len(keys) && v != "" && (keys[i] != "GOTOOLCHAIN" || os.Getenv("GOTOOLCHAIN") != "") {
			env = append(env, fmt.Sprintf("%s=%s", keys[i], v))
		}
	}
	return env
}

func readFileString(t testing.TB, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
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
