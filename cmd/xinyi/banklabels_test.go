package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow/go/v15/arrow/array"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// TestBankLabelsToModel closes a bank's loop through the CLI: the bank's own
// outcome file (code, date, label) in its private prefix becomes a sample joined
// with the platform's snapshots as of each date, and a model trains on it; the
// sample is the bank's alone.
func TestBankLabelsToModel(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := filepath.Join(dir, "u")
	for _, args := range [][]string{
		{"generate", "--companies", "1500", "--months", "36", "--seed", "7", "--out", store, "--quiet"},
		{"features", "materialize", "--store", store, "--set", "pd", "--asof", "2023-09-30,2023-12-31,2024-03-31,2024-06-30,2024-09-30,2024-12-31"},
		{"features", "sample", "--store", store, "--set", "pd", "--name", "pd-q", "--from", "2023-09-30", "--to", "2024-12-31", "--build-at", "2025-12-31"},
	} {
		if out, errOut, code := run(t, args...); code != 0 {
			t.Fatalf("%s: exit %d\n%s%s", strings.Join(args[:2], " "), code, out, errOut)
		}
	}
	keys := map[string]string{}
	for _, u := range [][2]string{{"Bank A", "alice"}, {"Bank B", "bob"}} {
		key, errOut, code := run(t, "access", "user", "-store", store, "-institution", u[0], "-kind", "bank", "-user", u[1], "-roles", "data_scientist")
		if code != 0 {
			t.Fatalf("access user %s: exit %d %s", u[1], code, errOut)
		}
		keys[u[1]] = strings.TrimSpace(key)
	}
	// The bank's outcomes: the borrowers of the public sample, each observed 20
	// days after its snapshot (so it joins that snapshot and no later one).
	root, err := blob.OpenLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	m, err := features.OpenSample(ctx, root, "pd-q")
	if err != nil {
		t.Fatal(err)
	}
	var csv bytes.Buffer
	csv.WriteString("code,date,label,loan_id\n")
	want := map[string]string{} // code|date → the snapshot it must join
	rows := 0
	for _, split := range []string{"train", "valid", "test"} {
		rec, err := features.ReadSampleSplit(ctx, root, m, split)
		if err != nil {
			t.Fatal(err)
		}
		codes, asofs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		labels := rec.Column(int(rec.NumCols()) - 1).(*array.Float64)
		for r := 0; r < int(rec.NumRows()); r++ {
			asof, _ := time.Parse(time.DateOnly, asofs.Value(r))
			date := asof.AddDate(0, 0, 20).Format(time.DateOnly)
			fmt.Fprintf(&csv, "%s,%s,%.0f,%d\n", codes.Value(r), date, labels.Value(r), rows)
			want[codes.Value(r)+"|"+date] = asofs.Value(r)
			rows++
		}
		rec.Release()
	}
	// Bank A is institution 1 (the first created).
	if _, err := root.Put(ctx, "banks/1/labels/financing.csv", bytes.NewReader(csv.Bytes())); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := run(t, "features", "sample-labels", "--store", store, "--bank", "Bank A", "--name", "loans", "--set", "pd")
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%d of %d rows joined", rows, rows)) || !strings.Contains(out, "under banks/1/samples/loans/v1/") {
		t.Fatalf("sample-labels: exit %d\n%s%s", code, out, errOut)
	}
	// Each row joined the snapshot of its own quarter.
	bank, err := blob.WithPrefix(root, "banks/1/")
	if err != nil {
		t.Fatal(err)
	}
	bm, err := features.OpenSample(ctx, bank, "loans")
	if err != nil {
		t.Fatal(err)
	}
	if len(bm.Labels) != 1 || bm.Labels[0].Key != "banks/1/labels/financing.csv" || bm.Labels[0].SHA256 == "" {
		t.Fatalf("lineage %+v", bm.Labels)
	}
	for _, split := range []string{"train", "valid", "test"} {
		rec, err := features.ReadSampleSplit(ctx, bank, bm, split)
		if err != nil {
			t.Fatal(err)
		}
		codes, asofs := rec.Column(0).(*array.String), rec.Column(1).(*array.String)
		for r := 0; r < int(rec.NumRows()); r++ {
			code := codes.Value(r)
			found := false
			for k, snap := range want {
				if strings.HasPrefix(k, code+"|") && snap == asofs.Value(r) {
					found = true
					break
				}
			}
			if !found {
				t.Fatalf("%s joined the snapshot of %s, which none of its observations follows within the quarter", code, asofs.Value(r))
			}
		}
		rec.Release()
	}
	out, errOut, code = run(t, "train", "--store", store, "--bank", "Bank A", "--sample", "loans", "--rounds", "30", "--threads", "2", "--out", filepath.Join(dir, "loans.txt"))
	if code != 0 || !strings.Contains(out, "sample loans/v1: trained") || !strings.Contains(out, "; test auc 0.") {
		t.Fatalf("train on the bank's sample: exit %d\n%s%s", code, out, errOut)
	}
	// Nobody finds it outside the bank's prefix.
	if _, errOut, code := run(t, "train", "--store", store, "--sample", "loans", "--out", filepath.Join(dir, "x.txt")); code == 0 || !strings.Contains(errOut, "unknown sample") {
		t.Fatalf("the bank's sample outside its prefix: exit %d\n%s", code, errOut)
	}
	if _, errOut, code := run(t, "train", "--store", store, "--bank", "Bank B", "--sample", "loans", "--out", filepath.Join(dir, "x.txt")); code == 0 || !strings.Contains(errOut, "unknown sample") {
		t.Fatalf("another bank's sample: exit %d\n%s", code, errOut)
	}

	// The same loop as the bank's own data scientist, with her key: upload,
	// download within her clearance, train and register with the file's digest.
	file := filepath.Join(dir, "loans.csv")
	if err := os.WriteFile(file, csv.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(csv.Bytes())
	digest := hex.EncodeToString(sum[:])
	out, errOut, code = run(t, "joint", "upload", "--store", store, "--key", keys["alice"], "--name", "loans-2024", "--labels", file)
	if code != 0 || !strings.Contains(out, "sample loans-2024/v1 of Bank A") || !strings.Contains(out, digest[:12]) {
		t.Fatalf("joint upload: exit %d\n%s%s", code, out, errOut)
	}
	// The same file with three more rows is a probe.
	probe := filepath.Join(dir, "probe.csv")
	lines := strings.SplitAfter(csv.String(), "\n")
	more := csv.String()
	for _, l := range lines[1:4] {
		f := strings.Split(l, ",")
		d, _ := time.Parse(time.DateOnly, f[1])
		more += fmt.Sprintf("%s,%s,1,p\n", f[0], d.AddDate(0, 0, 5).Format(time.DateOnly))
	}
	if err := os.WriteFile(probe, []byte(more), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, code := run(t, "joint", "upload", "--store", store, "--key", keys["alice"], "--name", "probe", "--labels", probe); code == 0 || !strings.Contains(errOut, "by 3 rows") || !strings.Contains(errOut, "nothing was written") {
		t.Fatalf("a probing upload: exit %d\n%s", code, errOut)
	}
	export := filepath.Join(dir, "export.csv")
	out, errOut, code = run(t, "joint", "export", "--store", store, "--key", keys["alice"], "--sample", "loans-2024", "--out", export)
	if code != 0 || !strings.Contains(out, "above alice's clearance (tax.") {
		t.Fatalf("joint export: exit %d\n%s%s", code, out, errOut)
	}
	head, _ := os.ReadFile(export)
	if first, _, _ := strings.Cut(string(head), "\n"); strings.Contains(first, "tax.sales.sum_12m") || !strings.HasPrefix(first, "split,company,asof,") {
		t.Fatalf("the download's header %q", first)
	}
	if _, errOut, code := run(t, "joint", "export", "--store", store, "--key", keys["bob"], "--sample", "loans-2024", "--out", export+".b"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("bank B's download: exit %d\n%s", code, errOut)
	}
	out, errOut, code = run(t, "joint", "train", "--store", store, "--key", keys["alice"], "--sample", "loans-2024", "--rounds", "30", "--threads", "2", "--register", "pd-bank-a")
	if code != 0 || !strings.Contains(out, "released test: ") || !strings.Contains(out, "registered pd-bank-a v1 (lineage: label file banks/1/labels/"+digest+".csv sha256 "+digest[:12]) {
		t.Fatalf("joint train: exit %d\n%s%s", code, out, errOut)
	}
	if out, errOut, code := run(t, "model", "list", "--store", store, "--key", keys["bob"]); code != 0 || strings.Contains(out, "pd-bank-a") {
		t.Fatalf("bank B lists bank A's model: exit %d\n%s%s", code, out, errOut)
	}
}
