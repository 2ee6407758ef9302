package main

import (
	"flag"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/training"
)

func TestParseFlagsInterspersed(t *testing.T) {
	cases := []struct {
		args    []string
		o       string
		v       bool
		wantPos []string
	}{
		{[]string{"KEY", "-o", "FILE"}, "FILE", false, []string{"KEY"}},
		{[]string{"-o", "FILE", "KEY"}, "FILE", false, []string{"KEY"}},
		{[]string{"A", "--v", "B", "-o=F", "C"}, "F", true, []string{"A", "B", "C"}},
		{[]string{"A", "--", "-o", "B"}, "", false, []string{"A", "-o", "B"}},
		{[]string{"--", "-v"}, "", false, []string{"-v"}},
		{nil, "", false, nil},
	}
	for _, c := range cases {
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		o := fs.String("o", "", "")
		v := fs.Bool("v", false, "")
		if err := parseFlags(fs, c.args); err != nil {
			t.Fatalf("%q: %v", c.args, err)
		}
		if *o != c.o || *v != c.v || !slices.Equal(fs.Args(), c.wantPos) && len(fs.Args())+len(c.wantPos) > 0 {
			t.Errorf("%q: o=%q v=%v args=%q, want o=%q v=%v args=%q", c.args, *o, *v, fs.Args(), c.o, c.v, c.wantPos)
		}
	}
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.String("o", "", "")
	if err := parseFlags(fs, []string{"KEY", "-nope"}); err == nil || !strings.Contains(err.Error(), "nope") {
		t.Errorf("an unknown flag after a positional argument: err %v", err)
	}
}

// TestHelpAndGroups checks what a newcomer types: -h on a command and on a
// group, a group alone, an unknown subcommand, and version.
func TestHelpAndGroups(t *testing.T) {
	for _, args := range [][]string{{"store", "get", "-h"}, {"model", "inspect", "--help"}, {"train", "-h"}, {"store", "get", "KEY", "-h"}, {"help", "store", "get"}} {
		out, errOut, code := run(t, args...)
		if code != 0 || !strings.Contains(out, "Usage") || !strings.Contains(out, "\n  -") || errOut != "" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want usage on stdout and exit 0", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{{"model"}, {"model", "-h"}, {"features", "--help"}, {"help", "model"}} {
		out, _, code := run(t, args...)
		group := args[0]
		if group == "help" {
			group = args[1]
		}
		if code != 0 || !strings.Contains(out, "Usage: xinyi "+group+" <subcommand>") || !strings.Contains(out, "  "+group+" ") {
			t.Errorf("%q: exit %d, stdout %q; want the group's subcommands and exit 0", args, code, out)
		}
	}
	_, errOut, code := run(t, "model", "frobnicate")
	if code != 2 || !strings.Contains(errOut, `unknown command "model frobnicate"`) || !strings.Contains(errOut, "model inspect") {
		t.Errorf("model frobnicate: exit %d, stderr %q", code, errOut)
	}
	_, errOut, code = run(t, "nosuch")
	if code != 2 || !strings.Contains(errOut, `unknown command "nosuch"`) {
		t.Errorf("nosuch: exit %d, stderr %q", code, errOut)
	}
	out, _, code := run(t, "version")
	if code != 0 || !strings.HasPrefix(out, "xinyi ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version: exit %d, %q", code, out)
	}
	// A real flag error still fails, on stderr.
	_, errOut, code = run(t, "store", "get", "-nope")
	if code != 1 || !strings.Contains(errOut, "nope") {
		t.Errorf("store get -nope: exit %d, stderr %q", code, errOut)
	}
}

func TestGenerateRefusesExistingRaw(t *testing.T) {
	store := filepath.Join(t.TempDir(), "d")
	gen := []string{"generate", "--companies", "300", "--months", "12", "--seed", "3", "--out", store, "--quiet"}
	if _, errOut, code := run(t, gen...); code != 0 {
		t.Fatalf("generate: exit %d: %s", code, errOut)
	}
	if _, errOut, code := run(t, "features", "materialize", "--store", store, "--set", "pd", "--asof", "2023-12-31"); code != 0 {
		t.Fatalf("materialize: exit %d: %s", code, errOut)
	}
	before, err := os.ReadFile(filepath.Join(store, "raw", "tax", "month=2023-01", "part-00000.parquet"))
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run(t, append(gen[:len(gen)-1:len(gen)-1], "--seed", "4", "--quiet")...)
	if code != 1 || !strings.Contains(errOut, "already holds raw data") || !strings.Contains(errOut, "features/ (") ||
		!strings.Contains(errOut, "--force") {
		t.Fatalf("generate again: exit %d, stderr %q", code, errOut)
	}
	after, err := os.ReadFile(filepath.Join(store, "raw", "tax", "month=2023-01", "part-00000.parquet"))
	if err != nil || string(after) != string(before) {
		t.Fatalf("a refused generate changed raw/ (err %v)", err)
	}
	if _, errOut, code := run(t, append(gen[:len(gen)-1:len(gen)-1], "--seed", "4", "--quiet", "--force")...); code != 0 ||
		!strings.Contains(errOut, "warning: ") || !strings.Contains(errOut, "features/ (") {
		t.Fatalf("generate --force: exit %d, stderr %q; want a warning naming what goes stale", code, errOut)
	}
	after, err = os.ReadFile(filepath.Join(store, "raw", "tax", "month=2023-01", "part-00000.parquet"))
	if err != nil || string(after) == string(before) {
		t.Fatalf("generate --force with another seed left raw/ as it was (err %v)", err)
	}
}

func TestAmountText(t *testing.T) {
	for _, c := range []struct {
		v    float64
		unit string
		want string
	}{
		{94243443.4, "yuan", "94,243,443 yuan"},
		{1000, "", "1,000"},
		{999.5, "", "999.5000"},
		{-1234567, "yuan", "-1,234,567 yuan"},
		{0.1234, "yuan", "0.1234 yuan"},
		{math.NaN(), "", "NaN"},
	} {
		if got := amountText(c.v, c.unit); got != c.want {
			t.Errorf("amountText(%v, %q) = %q, want %q", c.v, c.unit, got, c.want)
		}
	}
	// l2 is a mean squared error: 8881826581730117 yuan² is an RMSE of 94,243,443 yuan
	// (94243443² = 8881826548494249, 94243444² = 8881826736981136).
	if got := metricText("l2", 8881826581730117, "yuan"); got != "rmse 94,243,443 yuan" {
		t.Errorf("metricText l2 = %q", got)
	}
	if got := metricText("auc", 0.85041, ""); got != "auc 0.8504" {
		t.Errorf("metricText auc = %q", got)
	}
	// rmse_log 0.4055 is a typical factor exp(0.4055) = 1.5000.
	if got := metricText("rmse_log", 0.4055, "yuan"); got != "rmse of log 0.4055 (×1.50)" {
		t.Errorf("metricText rmse_log = %q", got)
	}
	md, rl := 0.2194, 0.4055
	if got := amountErrorsText(&training.Evaluation{RMSE: 1234567.4, MdAPE: &md, RMSELog: &rl}, "yuan"); got != "median error 21.9%, rmse of log 0.4055 (×1.50), rmse 1,234,567 yuan" {
		t.Errorf("amountErrorsText = %q", got)
	}
	if got := amountErrorsText(&training.Evaluation{RMSE: 1234567.4}, "yuan"); got != "rmse 1,234,567 yuan" {
		t.Errorf("amountErrorsText without relative errors = %q", got)
	}
}
