package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
)

func TestFinancingCommands(t *testing.T) {
	ctx := context.Background()
	store := filepath.Join(t.TempDir(), "data")
	db, _, acc, err := openMeta(ctx, metaFlags{store: &store, dsn: new(string)})
	if err != nil {
		t.Fatal(err)
	}
	officer, _ := accesstest.User(t, acc, "Shangyu Rural Bank", access.KindBank, "officer", access.RoleBank, access.RoleApprover)
	approver, _ := accesstest.User(t, acc, "Shangyu Rural Bank", access.KindBank, "approver", access.RoleApprover)
	regulator, _ := accesstest.User(t, acc, "Shangyu AMR", access.KindRegulator, "reg", access.RoleRegulator)
	db.Close()

	steps := []struct {
		name string
		args []string
		code int
		out  string
	}{
		{"a product with auto-approval", []string{"financing", "product-add", "--store", store, "--key", officer, "--name", "秒贷",
			"--rule", "rating_rank(rating) <= 2", "--limit-cap", "3000000", "--rate", "0.0385", "--auto-cap", "1000000"}, 0, "proposal 1"},
		{"a bad rule", []string{"financing", "product-add", "--store", store, "--key", officer, "--name", "x", "--rule", "pd <", "--limit-cap", "1"}, 1, "rule"},
		{"the proposer cannot approve", []string{"financing", "approve", "--store", store, "--key", officer, "--proposal", "1"}, 1, "four eyes"},
		{"a second person approves", []string{"financing", "approve", "--store", store, "--key", approver, "--proposal", "1"}, 0, "auto-approval true"},
		{"the product list", []string{"financing", "products", "--store", store, "--key", officer}, 0, "≤ 1000000"},
		{"the regulator's CSV", []string{"financing", "stats", "--store", store, "--key", regulator}, 0, "district,requests"},
		{"a bank's statistics", []string{"financing", "stats", "--store", store, "--key", officer}, 1, "regulator role"},
		{"labels", []string{"financing", "labels", "--store", store, "--key", officer}, 0, "0 labelled loans"},
		{"sweep", []string{"financing", "sweep", "--store", store}, 0, "0 requests expired"},
	}
	for _, st := range steps {
		out, errs, code := run(t, st.args...)
		if code != st.code || !strings.Contains(out+errs, st.out) {
			t.Fatalf("%s: exit %d, out %q, err %q; want exit %d with %q", st.name, code, out, errs, st.code, st.out)
		}
	}
	bad := filepath.Join(t.TempDir(), "r.csv")
	if err := os.WriteFile(bad, []byte("code,event_date,loan_id,status\n91350100M000100Y43,2027-01,x,maybe\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, errs, code := run(t, "financing", "repayments", "--store", store, "--key", officer, "--file", bad); code == 0 || !strings.Contains(out+errs, "rejected") {
		t.Fatalf("a bad repayment file: exit %d, out %q, err %q", code, out, errs)
	}
}
