package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIProbe: the token's view of the account, under both route sets
// and with a wrong token; its --yaml output is configuration that config
// check accepts; no database operation is spent.
func TestAPIProbe(t *testing.T) {
	for _, routes := range []string{"documented", "openapi"} {
		t.Run(routes, func(t *testing.T) {
			f := newFixture(t)
			raw, _ := os.ReadFile(f.cfg)
			cfg := strings.Replace(string(raw), "  token_file: api-token\n", "  token_file: api-token\n  routes: "+routes+"\n", 1)
			if routes == "openapi" {
				cfg = strings.Replace(cfg, "        id: \"2001\"\n", "        id: \"2001\"\n        source: backup\n", 1)
				cfg = strings.Replace(cfg, "        id: \"2002\"\n", "        id: \"2002\"\n        source: backup\n", 1)
			}
			f.writeConfig(cfg)
			code, out, errs := f.vectord("api", "probe")
			if code != 0 || !strings.Contains(out, "token: accepted") || !strings.Contains(out, "routes "+routes+": answers (api.routes)") {
				t.Fatalf("api probe = %d %q %q", code, out, errs)
			}
			code, out, errs = f.vectord("api", "probe", "--json")
			var rep probeReport
			if code != 0 || json.Unmarshal([]byte(out), &rep) != nil {
				t.Fatalf("api probe --json = %d %q %q", code, out, errs)
			}
			envs := map[string]bool{}
			for _, s := range rep.Sites {
				for _, e := range s.Environments {
					envs[s.ID+"/"+e.ID] = true
				}
			}
			if !rep.TokenOK || !rep.RouteSets[routes] || len(rep.Sites) != 2 || !envs["1001/2001"] || !envs["1001/2002"] || len(rep.Missing) != 0 {
				t.Errorf("probe report = %+v", rep)
			}
			code, yml, errs := f.vectord("api", "probe", "--yaml")
			if code != 0 || !strings.HasPrefix(yml, "sites:\n") {
				t.Fatalf("api probe --yaml = %d %q %q", code, yml, errs)
			}
			head := cfg[:strings.Index(cfg, "sites:\n")]
			f.writeConfig(head + yml)
			if code, out, errs := f.vectord("config", "check"); code != 0 {
				t.Errorf("config check of the probe's sites = %d %q %q\n%s", code, out, errs, yml)
			}
			if n := f.sim.Stats().DBOperations; n != 0 {
				t.Errorf("the probe spent %d database operations", n)
			}
		})
	}
	t.Run("wrong token", func(t *testing.T) {
		f := newFixture(t)
		if err := os.WriteFile(filepath.Join(f.dir, "api-token"), []byte("not-the-token\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errs := f.vectord("api", "probe")
		if code != 1 || !strings.Contains(out, "token: refused") || !strings.Contains(errs, "refused the token") || strings.Contains(out+errs, "not-the-token") {
			t.Errorf("api probe with a wrong token = %d %q %q", code, out, errs)
		}
	})
	t.Run("configured site not seen", func(t *testing.T) {
		f := newFixture(t)
		raw, _ := os.ReadFile(f.cfg)
		f.writeConfig(string(raw) + "  - name: ghost\n    id: \"9999\"\n")
		code, out, errs := f.vectord("api", "probe")
		if code != 1 || !strings.Contains(errs, "ghost") || !strings.Contains(out, "configured but not seen: site ghost") {
			t.Errorf("api probe with an unknown site = %d %q %q", code, out, errs)
		}
	})
}
