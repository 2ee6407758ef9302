package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFeaturesSetCommands: a bank publishes a set of a catalog indicator and its
// own request features from a YAML file, lists and shows it, registers nothing
// twice by name; another bank does not see it; a bad file changes nothing.
func TestFeaturesSetCommands(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	set := filepath.Join(dir, "set.yaml")
	if err := os.WriteFile(set, []byte(`name: bank-a-sme
description: 本行小微企业
features:
  - indicator: tax.sales.sum_12m
  - {name: collateral_ratio, type: numeric, unit: ratio, min: 0, max: 5, zh: 抵押率, en: Collateral ratio}
  - {name: grade, type: categorical, categories: [A, B, C], en: Internal grade}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	// A set of the bank's own features: the GMSC columns of the XGBoost fixtures.
	own := filepath.Join(dir, "own.yaml")
	ownYAML := "name: bank-a-own\nfeatures:\n"
	for _, n := range []string{"RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30_59DaysPastDueNotWorse", "DebtRatio",
		"MonthlyIncome", "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines",
		"NumberOfTime60_89DaysPastDueNotWorse", "NumberOfDependents"} {
		ownYAML += "  - {name: " + n + ", type: numeric}\n"
	}
	if err := os.WriteFile(own, []byte(ownYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	xgb := filepath.Join("..", "..", "gbdt", "testdata", "xgboost", "binary_depthwise.ubj")
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("name: bank-a-sme\nfeatures:\n  - indicator: tax.nope\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	alice, _, c1 := run(t, "access", "user", "-store", store, "-institution", "Bank A", "-kind", "bank", "-user", "alice", "-roles", "data_scientist")
	bob, _, c2 := run(t, "access", "user", "-store", store, "-institution", "Bank B", "-kind", "bank", "-user", "bob", "-roles", "data_scientist")
	if c1 != 0 || c2 != 0 {
		t.Fatalf("access user: %d %d", c1, c2)
	}
	alice, bob = strings.TrimSpace(alice), strings.TrimSpace(bob)
	for _, tt := range []struct {
		name     string
		args     []string
		wantCode int
		want     string // in stdout (or stderr when the code is not 0)
		absent   string
	}{
		{"create", []string{"features", "set", "create", "-store", store, "-key", alice, "-file", set}, 0, "published feature set bank-a-sme/v1: 3 features (2 request features), private to Bank A", ""},
		{"unknown indicator", []string{"features", "set", "create", "-store", store, "-key", alice, "-file", bad}, 1, `"tax.nope" is not in the catalog`, ""},
		{"list", []string{"features", "set", "list", "-store", store, "-key", alice}, 0, "bank-a-sme/v1", ""},
		{"show", []string{"features", "set", "show", "-store", store, "-key", alice, "-set", "bank-a-sme"}, 0, "bank-a-sme/v1  本行小微企业", ""},
		{"show a request feature", []string{"features", "set", "show", "-store", store, "-key", alice, "-set", "bank-a-sme/v1"}, 0, "2  collateral_ratio   request numeric      ratio  [0, 5]   抵押率 Collateral ratio", ""},
		{"other bank lists", []string{"features", "set", "list", "-store", store, "-key", bob}, 0, "pd/v1", "bank-a-sme"},
		{"other bank shows", []string{"features", "set", "show", "-store", store, "-key", bob, "-set", "bank-a-sme/v1"}, 1, "not found", ""},
		{"own set", []string{"features", "set", "create", "-store", store, "-key", alice, "-file", own}, 0, "bank-a-own/v1: 10 features (10 request features)", ""},
		{"register against it", []string{"model", "register", "-store", store, "-key", alice, "-name", "own", "-task", "pd", "-file", xgb, "-set", "bank-a-own"}, 0, "10 of 10 features of bank-a-own/v1", ""},
		{"other bank registers against it", []string{"model", "register", "-store", store, "-key", bob, "-name", "own-b", "-task", "pd", "-file", xgb, "-set", "bank-a-own/v1"}, 1, "unknown feature set", ""},
		{"v2", []string{"features", "set", "create", "-store", store, "-key", alice, "-file", set}, 0, "bank-a-sme/v2", ""},
	} {
		out, errb, code := run(t, tt.args...)
		text := out
		if code != 0 {
			text = errb
		}
		if code != tt.wantCode || !strings.Contains(text, tt.want) || (tt.absent != "" && strings.Contains(out, tt.absent)) {
			t.Errorf("%s: code %d, stdout %q, stderr %q; want code %d with %q", tt.name, code, out, errb, tt.wantCode, tt.want)
		}
	}
}
