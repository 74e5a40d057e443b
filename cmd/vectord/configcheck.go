package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/builtfast/vectord/catalog"
	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/scheduler"
	"github.com/builtfast/vectord/storage/s3"
	"github.com/builtfast/vectord/vectorapi"
)

// runConfig: vectord config check [--online] [--strict]
func runConfig(ctx context.Context, m *Main, args []string) error {
	f := m.flags("config")
	online, strict := f.on("online"), f.on("strict")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "check" {
		return usageErrorf("usage: %s", f.cmd.synopsis())
	}
	cfg, err := loadConfig(f.configPath())
	if err != nil {
		return err
	}
	now := time.Now()
	fmt.Fprintf(m.Stdout, "%s: configuration is valid\n\n", f.configPath())
	tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tENVIRONMENT\tSCHEDULE\tTIMEZONE\tNEXT RUNS")
	for _, e := range cfg.Environments() {
		offset := scheduler.Offset(e.Site, e.Name, e.Jitter)
		runs := scheduler.NextN(e.Cron, e.Location, offset, now, 3)
		next := ""
		for i, r := range runs {
			if i > 0 {
				next += ", "
			}
			next += r.In(e.Location).Format("2006-01-02 15:04:05 MST")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Site, e.Name, e.Schedule, e.Location, next)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	warnings := 0
	budget := cfg.API.DBOperationsPerHour
	pressure := scheduler.BudgetReport(schedEnvs(cfg), budget, now)
	fmt.Fprintln(m.Stdout)
	if len(pressure) == 0 {
		fmt.Fprintf(m.Stdout, "budget: the schedules fit in %d database operations an hour\n", budget)
	} else {
		warnings++
		printPressure(m.Stdout, pressure, budget)
	}
	if *online {
		fmt.Fprintln(m.Stdout)
		var failed []string
		for _, r := range onlineChecks(ctx, cfg) {
			if r.problem != "" {
				failed = append(failed, r.problem)
				continue
			}
			if r.warning {
				warnings++
			}
			fmt.Fprintf(m.Stdout, "%s\n", r.ok)
		}
		for _, p := range failed {
			fmt.Fprintf(m.Stderr, "vectord: %s\n", p)
		}
		if len(failed) > 0 {
			return silentError{fmt.Errorf("%d online checks failed", len(failed))}
		}
	}
	if *strict && warnings > 0 {
		return fmt.Errorf("--strict: the configuration has %d %s (see above)", warnings, checkPlural(warnings, "warning", "warnings"))
	}
	return nil
}

// printPressure summarises the hours whose scheduled exports the budget
// cannot serve in time: how many, the worst (its last export starts
// latest after the hour began) and the runs that would be skipped.
func printPressure(w io.Writer, pressure []scheduler.Pressure, budget int) {
	worst, skipped := pressure[0], 0
	for _, p := range pressure {
		skipped += p.Skipped
		if late, worstLate := p.LastStart.Sub(p.Start), worst.LastStart.Sub(worst.Start); late > worstLate || (late == worstLate && p.Due > worst.Due) {
			worst = p
		}
	}
	fmt.Fprintf(w, "warning: over the next 24 hours, %d clock %s for more exports than db_operations_per_hour (%d) serves; the exports queue\n",
		len(pressure), checkPlural(len(pressure), "hour asks", "hours ask"), budget)
	fmt.Fprintf(w, "  worst: %s–%s UTC, %d exports due, the last one starts at %s UTC\n",
		worst.Start.UTC().Format("2006-01-02 15:04"), worst.End.UTC().Format("15:04"), worst.Due, worst.LastStart.UTC().Format("2006-01-02 15:04"))
	if skipped > 0 {
		fmt.Fprintf(w, "  %d scheduled %s would be skipped: the environment's previous run still waits for budget\n", skipped, checkPlural(skipped, "run", "runs"))
	}
	fmt.Fprintln(w, "  spread the schedules over more hours (schedule, defaults.jitter) so that each hour asks for at most the budget")
}

// onlineResult is one online check: a line saying what works, or a
// problem saying what to do; warning marks an ok line that is a warning.
type onlineResult struct {
	ok      string
	problem string
	warning bool
}

func okResult(format string, args ...any) onlineResult {
	return onlineResult{ok: "ok: " + fmt.Sprintf(format, args...)}
}

func problem(format string, args ...any) onlineResult {
	return onlineResult{problem: fmt.Sprintf(format, args...)}
}

// onlineTimeout bounds each online check.
const onlineTimeout = 20 * time.Second

// onlineChecks checks what the configuration reaches: the API and its
// token, state_dir and local storage, the catalog, the S3 bucket.
func onlineChecks(ctx context.Context, cfg *config.Config) []onlineResult {
	results := []onlineResult{checkAPI(ctx, cfg)}
	results = append(results, checkDir("state_dir", cfg.StateDir))
	if cfg.Storage.Local != nil {
		results = append(results, checkDir("storage.local.path", cfg.Storage.Local.Path))
	}
	if r, ok := checkCatalog(cfg); ok {
		results = append(results, r)
	}
	if cfg.Storage.S3 != nil {
		results = append(results, checkS3(ctx, cfg.Storage.S3))
	}
	return results
}

// probeExportID is an export id no export has: asking for its status
// costs no database operation, and the API answers 404 once it has
// accepted the token, 401 when it refuses it.
const probeExportID = "vectord-config-check"

// checkAPI asks the API for the status of an export that does not exist.
func checkAPI(ctx context.Context, cfg *config.Config) onlineResult {
	api := cfg.API
	base := api.BaseURL
	if base == "" {
		base = vectorapi.DefaultBaseURL
	}
	shown := vectorapi.RedactURL(base)
	c, err := vectorapi.New(vectorapi.Options{
		BaseURL: api.BaseURL, Token: api.Token, Routes: api.Routes, Timeout: api.Timeout,
		RequestsPerMinute: api.RequestsPerMinute, UserAgent: "vectord/" + version, MaxRetries: -1,
	})
	if err != nil {
		return problem("api: %v: fix it in the configuration", err)
	}
	siteID := probeExportID
	if len(cfg.Sites) > 0 {
		siteID = cfg.Sites[0].ID
	}
	ctx, cancel := context.WithTimeout(ctx, onlineTimeout)
	defer cancel()
	_, err = c.ExportStatus(ctx, vectorapi.Target{SiteID: siteID}, probeExportID)
	var ae *vectorapi.Error
	switch {
	case err == nil || errors.Is(err, vectorapi.ErrNotFound):
		return okResult("api: %s answers and accepts the token", shown)
	case errors.Is(err, vectorapi.ErrUnauthorized):
		return problem("api: %s refuses the token (HTTP %d): check api.token or the file api.token_file names", shown, statusOf(err))
	case errors.Is(err, vectorapi.ErrRateLimited):
		r := okResult("api: %s answers but limits requests now (HTTP 429): the token was not checked; try again in a minute", shown)
		r.warning = true
		return r
	case errors.As(err, &ae):
		return problem("api: %s answered an export status query with %v: check api.base_url and api.routes", shown, err)
	}
	return problem("api: %s does not answer (%v): check api.base_url and that this host reaches it (DNS, proxy, firewall)", shown, err)
}

func statusOf(err error) int {
	var ae *vectorapi.Error
	if errors.As(err, &ae) {
		return ae.StatusCode
	}
	return 0
}

// checkDir checks that dir is a directory this user can write to, or
// that it can be created: a file is created in it (or in the nearest
// directory that exists) and removed again. Nothing else is created.
func checkDir(key, dir string) onlineResult {
	who := currentUser()
	st, err := os.Stat(dir)
	switch {
	case err == nil && !st.IsDir():
		return problem("%s %s is not a directory: point %s at a directory", key, dir, key)
	case err == nil:
		if err := tryWrite(dir); err != nil {
			return problem("%s %s is not writable by user %s (%v): run vectord as the user that owns it (sudo -u vectord vectord config check --online) or give %s write access", key, dir, who, cause(err), who)
		}
		return okResult("%s %s is a directory user %s can write to", key, dir, who)
	case !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR):
		return problem("%s %s cannot be read (%v): run vectord as the user that owns it (sudo -u vectord vectord config check --online)", key, dir, cause(err))
	}
	// Missing: the nearest directory that exists must let it be created.
	parent := filepath.Dir(dir)
	for {
		st, err := os.Stat(parent)
		if err == nil {
			if !st.IsDir() {
				return problem("%s %s cannot be created: %s is not a directory", key, dir, parent)
			}
			break
		}
		if !(errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)) || filepath.Dir(parent) == parent {
			return problem("%s %s cannot be created (%v): create it for user %s", key, dir, err, who)
		}
		parent = filepath.Dir(parent)
	}
	if err := tryWrite(parent); err != nil {
		return problem("%s %s does not exist and user %s cannot create it in %s (%v): create it with mkdir -p %s and chown it to the user vectord runs as", key, dir, who, parent, cause(err), dir)
	}
	return okResult("%s %s does not exist yet; user %s can create it", key, dir, who)
}

// tryWrite creates and removes a file in dir.
func tryWrite(dir string) error {
	f, err := os.CreateTemp(dir, ".vectord-config-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	err = f.Close()
	if rerr := os.Remove(name); err == nil {
		err = rerr
	}
	return err
}

// cause is the reason of a file system error without the path it names.
func cause(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// currentUser names the user this process runs as.
func currentUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return "uid " + strconv.Itoa(os.Getuid())
}

// checkCatalog opens the catalog under state_dir read-only, when there is
// one: a catalog this user cannot read, or a damaged one, says what to
// do. A catalog a running daemon holds is fine.
func checkCatalog(cfg *config.Config) (onlineResult, bool) {
	path := filepath.Join(cfg.StateDir, "catalog.db")
	if _, err := os.Lstat(path); err != nil {
		return onlineResult{}, false // none yet, or state_dir's own check says why
	}
	db, err := catalog.Open(path, catalog.Options{Timeout: time.Second, ReadOnly: true})
	switch {
	case err == nil:
		db.Close()
		return okResult("catalog %s opens", path), true
	case errors.Is(err, catalog.ErrLocked):
		return okResult("catalog %s is held by a running vectord", path), true
	}
	if hint := catalogHint(err); hint != "" {
		return problem("%v: %s", err, hint), true
	}
	return problem("%v", err), true
}

// checkS3 lists one object under the prefix: the endpoint answers, the
// bucket exists and the credentials may read it.
func checkS3(ctx context.Context, c *config.S3) onlineResult {
	where := fmt.Sprintf("bucket %s", c.Bucket)
	if c.Endpoint != "" {
		if u, err := url.Parse(c.Endpoint); err == nil {
			where += " at " + u.Host
		}
	}
	// The same options as the storage target the commands open.
	t, err := s3.New(s3.Options{
		Endpoint: c.Endpoint, Region: c.Region, Bucket: c.Bucket, Prefix: c.Prefix,
		AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey,
		StorageClass: c.StorageClass, ForcePathStyle: c.ForcePathStyle,
	})
	if err != nil {
		return problem("storage.s3: %v: fix it in the configuration", err)
	}
	ctx, cancel := context.WithTimeout(ctx, onlineTimeout)
	defer cancel()
	if err := t.Check(ctx); err != nil {
		return problem("storage.s3: %s: %v: check storage.s3.endpoint, bucket, region and the access keys", where, err)
	}
	return okResult("storage.s3: %s answers and the access keys may list it", where)
}
