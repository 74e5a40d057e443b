// Command vectorsim serves the simulated Vector Pro API of package vectorsim
// on a TCP address, for benchmark scripts and end-to-end tests.
//
// It prints two lines on stdout, the address it serves on and the base URL
// of the API under it, which is what vectord's api.base_url takes:
//
//	listening on http://127.0.0.1:18080
//	API base URL: http://127.0.0.1:18080/api/v1/vector (set api.base_url to it, and api.token to the --token value)
//
// It serves until SIGINT or SIGTERM, then drains requests for up to five
// seconds and exits 0. Bad flags exit 2, a failure to listen exits 1.
//
//	vectorsim --token secret --sites 12345,23456:67890 --dump-size 1GiB
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/builtfast/vectord/vectorsim"
)

// apiPath is where package vectorsim serves the Vector API, as the real
// API does under https://api.builtfast.com.
const apiPath = "/api/v1/vector"

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// site is one --sites entry: a site id and its environment ids.
type site struct {
	id   string
	envs []string
}

// run parses args, serves until ctx ends or a signal arrives, and returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vectorsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:0", "TCP address to serve on")
	token := fs.String("token", "", "bearer token the API requires (required)")
	dumpSize := fs.String("dump-size", "64KiB", "plain-SQL size of generated dumps, in bytes or with a KiB, MiB or GiB suffix")
	sitesFlag := fs.String("sites", "12345", "comma-separated site ids, each optionally followed by :ENV ids (12345,23456:67890)")
	opsPerHour := fs.Int("db-ops-per-hour", 0, "database operations allowed per sliding hour (0: unlimited)")
	perMinute := fs.Int("requests-per-minute", 0, "API requests allowed per sliding minute (0: unlimited)")
	urlTTL := fs.Duration("url-ttl", time.Hour, "validity of presigned URLs")
	artifactTTL := fs.Duration("artifact-ttl", 24*time.Hour, "how long completed exports stay downloadable")
	processing := fs.Duration("processing-time", 0, "time from export request to completion (0: complete at the second status query)")
	flavor := fs.String("flavor", "mysql", "dump flavor: mysql or mariadb")
	verbose := fs.Bool("verbose", false, "log every export, import and download to stderr")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vectorsim: "+format+"\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if *token == "" {
		return usage("--token is required")
	}
	size, err := parseSize(*dumpSize)
	if err != nil {
		return usage("--dump-size: %v", err)
	}
	sites, err := parseSites(*sitesFlag)
	if err != nil {
		return usage("--sites: %v", err)
	}
	var fl vectorsim.Flavor
	switch *flavor {
	case "mysql":
		fl = vectorsim.MySQL
	case "mariadb":
		fl = vectorsim.MariaDB
	default:
		return usage("--flavor: %q is neither mysql nor mariadb", *flavor)
	}
	if *opsPerHour < 0 || *perMinute < 0 || *urlTTL < time.Second || *artifactTTL < 0 || *processing < 0 {
		return usage("limits and durations must not be negative, and --url-ttl must be at least 1s")
	}

	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "vectorsim: listen on %s: %v\n", *listen, err)
		return 1
	}
	sim := vectorsim.New(vectorsim.Options{
		Token:             *token,
		URLTTL:            *urlTTL,
		ArtifactTTL:       *artifactTTL,
		ProcessingTime:    *processing,
		DumpSize:          size,
		Flavor:            fl,
		DBOpsPerHour:      *opsPerHour,
		RequestsPerMinute: *perMinute,
		Logger:            logger,
	})
	defer func() {
		if err := sim.Close(); err != nil {
			logger.Warn("remove temporary files", "error", err)
		}
	}()
	for _, s := range sites {
		sim.AddSite(s.id, s.envs...)
	}
	srv := &http.Server{Handler: sim, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "listening on http://%s\n", ln.Addr())
	fmt.Fprintf(stdout, "API base URL: http://%s%s (set api.base_url to it, and api.token to the --token value)\n", ln.Addr(), apiPath)

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "vectorsim: serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil {
		_ = srv.Close() // downloads still running after the grace period
	}
	<-errc
	return 0
}

// parseSize reads a byte count: digits, optionally followed by K, KiB, M,
// MiB, G or GiB (all powers of 1024).
func parseSize(s string) (int64, error) {
	num := strings.TrimRight(s, "KMGiB")
	unit := s[len(num):]
	shift := map[string]uint{"": 0, "K": 10, "KiB": 10, "M": 20, "MiB": 20, "G": 30, "GiB": 30}
	sh, ok := shift[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q in %q (use KiB, MiB or GiB)", unit, s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || strings.HasPrefix(num, "+") {
		return 0, fmt.Errorf("%q is not a size in bytes", s)
	}
	if n > (1<<62)>>sh {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n << sh, nil
}

// parseSites reads "12345,23456:67890:78901": site ids, each with optional
// environment ids after colons. A site named twice gets the union of its
// environments.
func parseSites(s string) ([]site, error) {
	var out []site
	for entry := range strings.SplitSeq(s, ",") {
		parts := strings.Split(strings.TrimSpace(entry), ":")
		for _, p := range parts {
			if p == "" || strings.ContainsAny(p, "/?# ") {
				return nil, fmt.Errorf("%q is not a site id with optional :env ids", entry)
			}
		}
		out = append(out, site{id: parts[0], envs: parts[1:]})
	}
	return out, nil
}
