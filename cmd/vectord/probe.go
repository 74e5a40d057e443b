package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"regexp"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/builtfast/vectord/config"
	"github.com/builtfast/vectord/vectorapi"
)

// probeReport is what `vectord api probe --json` prints.
type probeReport struct {
	TokenOK          bool              `json:"token_ok"`
	TokenError       string            `json:"token_error,omitempty"`
	RouteSets        map[string]bool   `json:"route_sets"`
	Routes           string            `json:"routes_configured"`
	RateLimitHeaders map[string]string `json:"rate_limit_headers"`
	Sites            []vectorapi.Site  `json:"sites"`
	Missing          []string          `json:"missing"` // configured site/environment the token cannot see
}

// runAPI: vectord api probe [--json] [--yaml] — what the token sees,
// without spending a database operation (CONTRACT §2).
func runAPI(ctx context.Context, m *Main, args []string) error {
	f := m.flags("api")
	asJSON, asYAML := f.on("json"), f.on("yaml")
	pos, err := f.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] != "probe" {
		return usageErrorf("usage: %s", f.cmd.synopsis())
	}
	if *asJSON && *asYAML {
		return usageErrorf("api probe: --json and --yaml are exclusive")
	}
	cfg, err := loadConfig(f.configPath())
	if err != nil {
		return err
	}
	a := &app{cfg: cfg, log: slog.New(slog.DiscardHandler)}
	client, err := a.client(nil, nil)
	if err != nil {
		return err
	}
	rep := probeReport{Routes: cfg.API.Routes, RouteSets: map[string]bool{}, Sites: []vectorapi.Site{}, Missing: []string{}}
	res, err := client.Probe(ctx)
	if err != nil {
		return fmt.Errorf("probe the API at %s: %w", vectorapi.RedactURL(cfg.API.BaseURL), err)
	}
	rep.TokenOK, rep.TokenError, rep.RouteSets, rep.RateLimitHeaders = res.TokenOK, res.TokenError, res.RouteSets, res.RateLimitHeaders
	if rep.TokenOK {
		if rep.Sites, err = client.Sites(ctx); err != nil {
			return fmt.Errorf("list the sites the token sees: %w", err)
		}
		rep.Missing = missingFromProbe(cfg, rep.Sites)
	}
	switch {
	case *asJSON:
		enc := json.NewEncoder(m.Stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	case *asYAML:
		writeSitesYAML(m.Stdout, rep.Sites)
	default:
		rep.print(m.Stdout)
	}
	switch {
	case !rep.TokenOK:
		return fmt.Errorf("the API refused the token (%s): create a new token in the Vector dashboard and put it in api.token_file", rep.TokenError)
	case len(rep.Missing) > 0:
		return fmt.Errorf("the token cannot see %s: check the ids in the configuration (vectord api probe --yaml prints what it sees)", strings.Join(rep.Missing, ", "))
	}
	return nil
}

// missingFromProbe names the configured sites and environments the token
// does not see.
func missingFromProbe(cfg *config.Config, sites []vectorapi.Site) []string {
	seenSite, seenEnv := map[string]bool{}, map[string]bool{}
	for _, s := range sites {
		seenSite[s.ID] = true
		for _, e := range s.Environments {
			seenEnv[e.ID] = true
		}
	}
	missing := []string{}
	for _, e := range cfg.Environments() {
		switch {
		case !seenSite[e.SiteID]:
			missing = append(missing, fmt.Sprintf("site %s (id %s)", e.Site, e.SiteID))
		case e.EnvironmentID != "" && !seenEnv[e.EnvironmentID]:
			missing = append(missing, fmt.Sprintf("environment %s/%s (id %s)", e.Site, e.Name, e.EnvironmentID))
		}
	}
	slices.Sort(missing)
	return slices.Compact(missing)
}

func (rep probeReport) print(w io.Writer) {
	if rep.TokenOK {
		fmt.Fprintln(w, "token: accepted")
	} else {
		fmt.Fprintf(w, "token: refused (%s)\n", rep.TokenError)
	}
	for _, set := range []string{vectorapi.RoutesDocumented, vectorapi.RoutesOpenAPI} {
		state := "not answered"
		if rep.RouteSets[set] {
			state = "answers"
		}
		mark := ""
		if set == rep.Routes || (rep.Routes == "" && set == vectorapi.RoutesDocumented) {
			mark = " (api.routes)"
		}
		fmt.Fprintf(w, "routes %s: %s%s\n", set, state, mark)
	}
	if len(rep.RateLimitHeaders) > 0 {
		fmt.Fprint(w, "rate limit:")
		for _, k := range slices.Sorted(maps.Keys(rep.RateLimitHeaders)) {
			fmt.Fprintf(w, " %s=%s", k, rep.RateLimitHeaders[k])
		}
		fmt.Fprintln(w)
	}
	if !rep.TokenOK {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSITE ID\tNAME\tENVIRONMENT ID\tENVIRONMENT")
	for _, s := range rep.Sites {
		fmt.Fprintf(tw, "%s\t%s\t\t(development database)\n", s.ID, s.Name)
		for _, e := range s.Environments {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", s.ID, s.Name, e.ID, e.Name)
		}
	}
	tw.Flush()
	for _, m := range rep.Missing {
		fmt.Fprintf(w, "configured but not seen: %s\n", m)
	}
}

var notName = regexp.MustCompile(`[^a-z0-9_-]+`)

// configName turns an API name into a configuration name
// ([a-z0-9][a-z0-9_-]*), unique among used.
func configName(s, fallback string, used map[string]bool) string {
	n := strings.Trim(notName.ReplaceAllString(strings.ToLower(s), "-"), "-_")
	if n == "" {
		n = fallback
	}
	base := n
	for i := 2; used[n]; i++ {
		n = fmt.Sprintf("%s-%d", base, i)
	}
	used[n] = true
	return n
}

// writeSitesYAML prints a sites: block for the configuration: every site's
// development database and environments, with their ids.
func writeSitesYAML(w io.Writer, sites []vectorapi.Site) {
	fmt.Fprintln(w, "sites:")
	usedSites := map[string]bool{}
	for i, s := range sites {
		fmt.Fprintf(w, "  - name: %s\n    id: %q\n    environments:\n", configName(s.Name, fmt.Sprintf("site%d", i+1), usedSites), s.ID)
		usedEnvs := map[string]bool{config.DevelopmentName: true}
		fmt.Fprintf(w, "      - name: %s\n", config.DevelopmentName)
		for j, e := range s.Environments {
			fmt.Fprintf(w, "      - name: %s\n        id: %q\n", configName(e.Name, fmt.Sprintf("env%d", j+1), usedEnvs), e.ID)
		}
	}
}
