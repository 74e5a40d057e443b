// Package mariadbtest runs a throwaway MariaDB server for a test and puts it
// behind the simulated Vector API as a vectorsim.Backend, so that a backup
// and a restore can travel through a real database.
//
// Start needs MariaDB's server and client programs (Debian: apt-get install
// mariadb-server mariadb-client). Without them the test is skipped, unless
// the CI environment variable is set: then it fails.
package mariadbtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// startTimeout bounds installing and starting the server; stopTimeout its
// shutdown.
const (
	startTimeout = time.Minute
	stopTimeout  = 30 * time.Second
)

// Server is a running MariaDB server that listens on a Unix socket only
// and lets root in without a password. Its methods are safe for concurrent
// use.
type Server struct {
	// Socket is the server's Unix socket.
	Socket string
	// Version is the server's version line, e.g.
	// "mariadbd  Ver 10.11.6-MariaDB-0+deb12u1 for debian-linux-gnu on x86_64".
	Version string

	dir  string // data, logs and exported dumps
	bins binaries

	mu    sync.Mutex
	files []*os.File // exported dumps, closed at cleanup
}

// binaries are the MariaDB programs a Server runs.
type binaries struct {
	server, install, client, dump, admin string
}

// lookup finds the MariaDB programs on PATH and in the usual sbin
// directories, which are not on every user's PATH.
func lookup() (binaries, error) {
	find := func(names ...string) (string, error) {
		for _, n := range names {
			if p, err := exec.LookPath(n); err == nil {
				return p, nil
			}
			for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/mysql/bin", "/opt/homebrew/bin", "/opt/homebrew/sbin"} {
				p := filepath.Join(dir, n)
				if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
					return p, nil
				}
			}
		}
		return "", fmt.Errorf("none of %s found", strings.Join(names, ", "))
	}
	var (
		b    binaries
		errs []error
	)
	for _, x := range []struct {
		dst   *string
		names []string
	}{
		{&b.server, []string{"mariadbd"}},
		{&b.install, []string{"mariadb-install-db"}},
		{&b.client, []string{"mariadb", "mysql"}},
		{&b.dump, []string{"mariadb-dump", "mysqldump"}},
		{&b.admin, []string{"mariadb-admin", "mysqladmin"}},
	} {
		p, err := find(x.names...)
		*x.dst = p
		errs = append(errs, err)
	}
	return b, errors.Join(errs...)
}

// Start installs a fresh MariaDB data directory in a temporary directory,
// starts a server on it and stops it when the test ends. It skips the test
// when MariaDB is not installed, unless CI is set; any other failure fails
// the test.
func Start(t testing.TB) *Server {
	t.Helper()
	bins, err := lookup()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("MariaDB is required in CI: %v (install mariadb-server and mariadb-client)", err)
		}
		t.Skipf("MariaDB is not installed: %v (apt-get install mariadb-server mariadb-client)", err)
	}
	dir := t.TempDir()
	// A Unix socket path is limited to about 100 bytes: t.TempDir() may be
	// longer.
	sockDir, err := os.MkdirTemp("", "mariadbtest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	s := &Server{Socket: filepath.Join(sockDir, "mariadb.sock"), dir: dir, bins: bins}

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if out, err := exec.CommandContext(ctx, bins.server, "--version").Output(); err == nil {
		s.Version = strings.TrimSpace(string(out))
	}
	data := filepath.Join(dir, "data")
	tuning := []string{
		"--innodb-log-file-size=16M", "--innodb-buffer-pool-size=64M",
		"--innodb-flush-log-at-trx-commit=0", "--innodb-doublewrite=0",
	}
	install := append([]string{"--no-defaults", "--auth-root-authentication-method=normal",
		"--skip-test-db", "--datadir=" + data}, tuning...)
	install = append(install, asRoot()...)
	if out, err := exec.CommandContext(ctx, bins.install, install...).CombinedOutput(); err != nil {
		t.Fatalf("mariadb-install-db: %v\n%s", err, out)
	}

	errLog := filepath.Join(dir, "error.log")
	args := append([]string{"--no-defaults", "--datadir=" + data, "--socket=" + s.Socket,
		"--skip-networking", "--pid-file=" + filepath.Join(dir, "mariadbd.pid"),
		"--log-error=" + errLog, "--tmpdir=" + dir, "--max-allowed-packet=64M",
		"--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"}, tuning...)
	args = append(args, asRoot()...)
	cmd := exec.Command(bins.server, args...)
	out, err := os.Create(filepath.Join(dir, "mariadbd.out"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		t.Fatalf("start mariadbd: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		out.Close()
		close(exited)
	}()
	t.Cleanup(func() {
		s.closeFiles()
		if err := s.stop(cmd, exited); err != nil {
			t.Errorf("stop MariaDB: %v", err)
		}
	})

	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		pctx, pcancel := context.WithTimeout(ctx, 5*time.Second)
		err := exec.CommandContext(pctx, bins.admin, s.connArgs("--connect-timeout=1", "ping")...).Run()
		pcancel()
		if err == nil {
			return s
		}
		select {
		case <-exited:
			t.Fatalf("mariadbd exited while starting: %v\n%s", waitErr, tail(errLog))
		case <-ctx.Done():
			t.Fatalf("mariadbd did not answer within %s: %v\n%s", startTimeout, err, tail(errLog))
		case <-tick.C:
		}
	}
}

// asRoot is the option that lets mariadbd run as root, when it does.
func asRoot() []string {
	if os.Geteuid() == 0 {
		return []string{"--user=root"}
	}
	return nil
}

// stop shuts the server down cleanly, or kills it after stopTimeout.
func (s *Server) stop(cmd *exec.Cmd, exited <-chan struct{}) error {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	shutdownErr := exec.CommandContext(ctx, s.bins.admin, s.connArgs("shutdown")...).Run()
	select {
	case <-exited:
		return nil
	case <-ctx.Done():
	}
	killErr := cmd.Process.Kill()
	<-exited
	return fmt.Errorf("mariadbd did not stop within %s (shutdown: %v), killed it: %v", stopTimeout, shutdownErr, killErr)
}

// connArgs are the options every client program connects with, then
// extra.
func (s *Server) connArgs(extra ...string) []string {
	return append([]string{"--no-defaults", "--socket=" + s.Socket, "--user=root"}, extra...)
}

// clientArgs are the options of the programs that move data (mariadb,
// mariadb-dump), then extra: always utf8mb4, or emoji are refused.
func (s *Server) clientArgs(extra ...string) []string {
	return s.connArgs(append([]string{"--default-character-set=utf8mb4", "--max-allowed-packet=64M"}, extra...)...)
}

// Exec runs the SQL script read from sql in database db ("" for none) with
// the mariadb client. The error carries the client's message, such as
// "ERROR 1064 (42000) at line 3: You have an error in your SQL syntax".
func (s *Server) Exec(ctx context.Context, db string, sql io.Reader) error {
	args := s.clientArgs("--batch")
	if db != "" {
		args = append(args, db)
	}
	cmd := exec.CommandContext(ctx, s.bins.client, args...)
	cmd.Stdin = sql
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stderr = stderr
	if err := cmd.Run(); err != nil {
		return commandError("mariadb", err, stderr)
	}
	return nil
}

// Query runs one statement in database db and returns its result rows,
// each a slice of column values as the client prints them in batch mode
// (NULL as "NULL"; tabs, newlines and backslashes escaped).
func (s *Server) Query(ctx context.Context, db, query string) ([][]string, error) {
	args := s.clientArgs("--batch", "--skip-column-names", "-e", query)
	if db != "" {
		args = append(args, db)
	}
	cmd := exec.CommandContext(ctx, s.bins.client, args...)
	var stdout bytes.Buffer
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		return nil, commandError("mariadb", err, stderr)
	}
	var rows [][]string
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		rows = append(rows, strings.Split(sc.Text(), "\t"))
	}
	return rows, sc.Err()
}

// Checksums returns CHECKSUM TABLE … EXTENDED of every base table of
// database db, by table name: equal maps mean equal table contents.
func (s *Server) Checksums(ctx context.Context, db string) (map[string]string, error) {
	tables, err := s.Query(ctx, db, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY table_name")
	if err != nil {
		return nil, fmt.Errorf("list tables of %s: %w", db, err)
	}
	sums := map[string]string{}
	if len(tables) == 0 {
		return sums, nil
	}
	names := make([]string, len(tables))
	for i, row := range tables {
		names[i] = quoteName(row[0])
	}
	rows, err := s.Query(ctx, db, "CHECKSUM TABLE "+strings.Join(names, ", ")+" EXTENDED")
	if err != nil {
		return nil, fmt.Errorf("checksum tables of %s: %w", db, err)
	}
	for _, row := range rows {
		if len(row) != 2 {
			return nil, fmt.Errorf("checksum tables of %s: unexpected row %q", db, row)
		}
		sums[strings.TrimPrefix(row[0], db+".")] = row[1]
	}
	return sums, nil
}

// Dump writes a dump of database db to w as the platform's exports are
// made: mariadb-dump --single-transaction --routines --triggers, in
// utf8mb4, ending with its "-- Dump completed" line.
func (s *Server) Dump(ctx context.Context, db string, w io.Writer) error {
	cmd := exec.CommandContext(ctx, s.bins.dump, s.clientArgs("--single-transaction", "--routines", "--triggers", db)...)
	stderr := &limitedBuffer{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = w, stderr
	if err := cmd.Run(); err != nil {
		return commandError("mariadb-dump", err, stderr)
	}
	return nil
}

// Backend returns a vectorsim.Backend whose databases live on s: the
// simulator's database of a site (EnvKey.Env "" is its development
// database) is the MariaDB database databases names. Exports are dumps
// taken by Dump, stored as files until the test ends; imports replace the
// database's tables and run through the mariadb client.
func (s *Server) Backend(databases map[vectorsim.EnvKey]string) *Backend {
	m := make(map[vectorsim.EnvKey]string, len(databases))
	for k, v := range databases {
		m[k] = v
	}
	return &Backend{s: s, dbs: m}
}

// Backend is a vectorsim.Backend backed by a Server.
type Backend struct {
	s   *Server
	dbs map[vectorsim.EnvKey]string
}

var _ vectorsim.Backend = (*Backend)(nil)

func (b *Backend) database(siteID, envID string) (string, error) {
	db, ok := b.dbs[vectorsim.EnvKey{Site: siteID, Env: envID}]
	if !ok {
		return "", fmt.Errorf("no database for site %s environment %q", siteID, envID)
	}
	return db, nil
}

// Export dumps the site's database into a file and returns it.
func (b *Backend) Export(ctx context.Context, siteID, envID string) (vectorsim.Body, error) {
	db, err := b.database(siteID, envID)
	if err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(b.s.dir, "export-*.sql")
	if err != nil {
		return nil, fmt.Errorf("create export file: %w", err)
	}
	if err := b.s.Dump(ctx, db, f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("dump %s: %w", db, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("stat export file: %w", err)
	}
	b.s.mu.Lock()
	b.s.files = append(b.s.files, f)
	b.s.mu.Unlock()
	return fileBody{f, fi.Size()}, nil
}

// Import drops every table and view of the site's database, as the API's
// drop_tables import option (true unless asked otherwise) does, then runs
// sql in it.
func (b *Backend) Import(ctx context.Context, siteID, envID string, sql io.Reader) error {
	db, err := b.database(siteID, envID)
	if err != nil {
		return err
	}
	if err := b.s.dropTables(ctx, db); err != nil {
		return err
	}
	return b.s.Exec(ctx, db, sql)
}

// dropTables drops every table and view of database db.
func (s *Server) dropTables(ctx context.Context, db string) error {
	rows, err := s.Query(ctx, db, "SELECT table_type, table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
	if err != nil {
		return fmt.Errorf("list tables of %s: %w", db, err)
	}
	var tables, views []string
	for _, row := range rows {
		name := quoteName(row[1])
		if row[0] == "VIEW" {
			views = append(views, name)
		} else {
			tables = append(tables, name)
		}
	}
	stmt := "SET FOREIGN_KEY_CHECKS = 0;\n"
	if len(views) > 0 {
		stmt += "DROP VIEW IF EXISTS " + strings.Join(views, ", ") + ";\n"
	}
	if len(tables) > 0 {
		stmt += "DROP TABLE IF EXISTS " + strings.Join(tables, ", ") + ";\n"
	}
	if err := s.Exec(ctx, db, strings.NewReader(stmt)); err != nil {
		return fmt.Errorf("drop the tables of %s: %w", db, err)
	}
	return nil
}

// quoteName quotes an identifier for MariaDB.
func quoteName(name string) string {
	return "`" + strings.ReplaceAll(name, "`", "``") + "`"
}

func (s *Server) closeFiles() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.files {
		f.Close()
	}
	s.files = nil
}

// fileBody is an exported dump: *os.File's ReadAt is safe for concurrent
// use.
type fileBody struct {
	*os.File
	size int64
}

func (b fileBody) Size() int64 { return b.size }

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// commandError is a failed client program's error: its message on stderr
// if it wrote one.
func commandError(name string, err error, stderr *limitedBuffer) error {
	if msg := strings.TrimSpace(stderr.buf.String()); msg != "" {
		return fmt.Errorf("%s: %s", name, msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// tail returns the end of a log file, for a failure message.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	const n = 4 << 10
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
