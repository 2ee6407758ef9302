package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCasesCommands(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	// Two penalties: a fine decided in 2020 (publicity of a general record ends
	// after 12 months: long over) and a warning (minor, never publicised).
	csv := filepath.Join(dir, "penalty.csv")
	data := "code,event_date,penalty_id,department,severity,amount\n" +
		"91330604MA4UJ7K283,2020-01-05,P-2020-1,绍兴市市场监管局,2,5000\n" +
		"91330604MA4UJ7K283,2020-02-05,P-2020-2,绍兴市市场监管局,1,0\n"
	if err := os.WriteFile(csv, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := run(t, "ingest", "-store", store, "-source", "penalty", csv); code != 0 {
		t.Fatalf("ingest: %s %s", out, errs)
	}
	dept, _, code := run(t, "access", "user", "-store", store, "-institution", "market-regulation", "-kind", "department", "-user", "mr-1", "-roles", "department")
	if code != 0 {
		t.Fatal("access user")
	}
	dept = strings.TrimSpace(dept)
	steps := []struct {
		name     string
		args     []string
		wantCode int
		want     string
	}{
		{"expire", []string{"cases", "expire", "-store", store}, 0, "publicity ended for 1 penalty records"},
		{"expire again", []string{"cases", "expire", "-store", store}, 0, "publicity ended for 0 penalty records"},
		{"expire in the future", []string{"cases", "expire", "-store", store, "-as-of", "2999-01-01"}, 1, "after today"},
		{"review queue", []string{"cases", "list", "-store", store, "-key", dept, "-queue", "review"}, 0, "0 cases"},
		{"authority queue as a department", []string{"cases", "list", "-store", store, "-key", dept, "-queue", "authority"}, 1, "regulator role"},
		{"no key", []string{"cases", "list", "-store", store, "-key", "", "-queue", "review"}, 1, "API key is required"},
		{"unknown case", []string{"cases", "show", "-store", store, "-key", dept, "7"}, 1, "not found"},
		{"two steps", []string{"cases", "decide", "-store", store, "-key", dept, "-approve", "-reject", "no", "7"}, 1, "exactly one"},
		{"bad deadline", []string{"cases", "decide", "-store", store, "-key", dept, "-deadline", "soon", "7"}, 1, "neither"},
		{"decide unknown case", []string{"cases", "decide", "-store", store, "-key", dept, "-approve", "7"}, 1, "not found"},
	}
	for _, st := range steps {
		out, errs, code := run(t, st.args...)
		if code != st.wantCode || !strings.Contains(out+errs, st.want) {
			t.Fatalf("%s: exit %d, want %d with %q\nstdout: %s\nstderr: %s", st.name, code, st.wantCode, st.want, out, errs)
		}
	}
}
