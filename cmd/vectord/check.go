package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"

	"github.com/builtfast/vectord/integrity"
)

// check runs the checker over the app's catalog and targets and, with
// repair, repairs what it found. busy names the backup keys jobs in flight
// are writing (a daemon's), nil when none run.
func (a *app) check(ctx context.Context, repair, readData bool, busy func(string) bool) (integrity.Report, integrity.RepairResult, error) {
	chk := &integrity.Checker{
		Catalog:   a.cat,
		Targets:   a.targets,
		LocalRoot: a.root,
		ReadData:  readData,
		Busy:      busy,
		Logger:    a.log,
	}
	rep, err := chk.Check(ctx)
	if err != nil {
		return rep, integrity.RepairResult{}, err
	}
	res := integrity.RepairResult{Before: rep, Actions: []string{}, Left: []string{}, After: rep}
	if repair && !rep.OK() {
		if res, err = chk.Repair(ctx, rep); err != nil {
			return rep, res, err
		}
	}
	return rep, res, nil
}

// runCheck: vectord check [--repair] [--json] [--read-data] — the catalog
// against storage (CONTRACT §2).
func runCheck(ctx context.Context, m *Main, args []string) error {
	f := m.flags("check")
	repair, asJSON, readData := f.on("repair"), f.on("json"), f.on("read-data")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageErrorf("check takes no arguments, got %q", pos)
	}
	// With --repair the catalog is opened writable, which removes stray
	// partial downloads: log that at info level so it is said.
	level := slog.LevelWarn
	if *repair {
		level = slog.LevelInfo
	}
	a, err := openAppBeside(ctx, f.configPath(), *repair, newLogger(m.Stderr, level))
	if err != nil {
		return err
	}
	defer a.Close()
	var rep integrity.Report
	var res integrity.RepairResult
	if a.cat != nil {
		rep, res, err = a.check(ctx, *repair, *readData, nil)
	} else {
		// A running daemon holds the catalog: it checks (and repairs) it.
		var raw json.RawMessage
		if raw, _, err = a.remote.Check(ctx, *repair, *readData); err == nil {
			if *repair {
				err = json.Unmarshal(raw, &res)
				rep = res.Before
			} else {
				err = json.Unmarshal(raw, &rep)
			}
		}
	}
	if err != nil {
		return err
	}
	if !*repair {
		if *asJSON {
			if err := writeCheckJSON(m.Stdout, rep); err != nil {
				return err
			}
		} else {
			printCheckFindings(m.Stdout, rep, "")
			fmt.Fprintln(m.Stdout, checkSummary(rep))
		}
		return checkResult(rep)
	}
	if *asJSON {
		if err := writeCheckJSON(m.Stdout, res); err != nil {
			return err
		}
		return checkResult(res.After)
	}
	printCheckFindings(m.Stdout, rep, "")
	for _, s := range res.Actions {
		fmt.Fprintf(m.Stdout, "repaired: %s\n", s)
	}
	for _, s := range res.Left {
		fmt.Fprintf(m.Stdout, "not repaired: %s\n", s)
	}
	if rep.OK() {
		fmt.Fprintln(m.Stdout, checkSummary(rep))
	} else {
		printCheckFindings(m.Stdout, res.After, "remains: ")
		fmt.Fprintf(m.Stdout, "after repair: %s\n", checkSummary(res.After))
	}
	return checkResult(res.After)
}

func writeCheckJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printCheckFindings(w io.Writer, rep integrity.Report, prefix string) {
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "%s%s\n", prefix, f)
	}
}

// checkSummary is the last line of the text output.
func checkSummary(rep integrity.Report) string {
	if n := len(rep.Findings); n > 0 {
		return fmt.Sprintf("%d %s found", n, checkPlural(n, "problem", "problems"))
	}
	s := fmt.Sprintf("catalog and storage agree: %d %s, %d %s", rep.Records, checkPlural(rep.Records, "backup", "backups"),
		rep.Files, checkPlural(rep.Files, "file", "files"))
	if rep.ReadData {
		s += fmt.Sprintf(" (%d read in full)", rep.Verified)
	}
	return s
}

func checkPlural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// checkResult is exit status 1, already explained on stdout, when problems
// remain.
func checkResult(rep integrity.Report) error {
	if rep.OK() {
		return nil
	}
	return silentError{fmt.Errorf("%d problems found", len(rep.Findings))}
}
