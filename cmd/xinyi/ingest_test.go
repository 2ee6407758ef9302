package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/creditcode"
)

func TestIngestCommand(t *testing.T) {
	dir := t.TempDir()
	var b strings.Builder
	b.WriteString("纳税人识别号\t所属期\t销售额\t增值税\t企业所得税\t实缴税额\t利润总额\t开票数量\t欠税金额\t纳税信用等级\n")
	for i := range 30 {
		code, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			t.Fatal(err)
		}
		sales := "1000"
		if i == 4 {
			sales = "-5" // negative sales: one bad row of 30 (3.3%)
		}
		fmt.Fprintf(&b, "%s\t2024-03\t%s\t30\t0\t30\t100\t2\t0\tA\n", code, sales)
	}
	file := filepath.Join(t.TempDir(), "tax.tsv")
	if err := os.WriteFile(file, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// 1 bad row of 30 (3.3%) is over --max-bad 0.02: refused, nothing visible.
	out, errs, code := run(t, "ingest", "--store", dir, "--source", "tax", "--max-bad", "0.02", file)
	if code == 0 || !strings.Contains(errs, "batch refused") || !strings.Contains(out, "out_of_range sales") {
		t.Fatalf("refusal: exit %d, out %q, err %q", code, out, errs)
	}
	if out, _, _ := run(t, "store", "list", "--store", dir, "raw/"); !strings.Contains(out, "0 objects") {
		t.Fatalf("a refused batch left raw objects: %s", out)
	}
	out, errs, code = run(t, "ingest", "--store", dir, "--source", "tax", "--batch-id", "march", file)
	if code != 0 || !strings.Contains(out, "tax batch march: 30 rows, 29 accepted (29 new, 0 corrected, 0 unchanged), 1 rejected (out_of_range=1)") {
		t.Fatalf("ingest: exit %d, out %q, err %q", code, out, errs)
	}
	out, errs, code = run(t, "ingest", "--store", dir, "--source", "tax", "--batch-id", "march", file)
	if code != 0 || !strings.Contains(out, "already committed, nothing changed") {
		t.Fatalf("repeat: exit %d, out %q, err %q", code, out, errs)
	}
	out, errs, code = run(t, "ingest", "status", "--store", dir)
	if code != 0 || !strings.Contains(out, "tax ") || !strings.Contains(out, "3.33%") {
		t.Fatalf("status: exit %d, out %q, err %q", code, out, errs)
	}
	if out, errs, code = run(t, "ingest", "gc", "--store", dir, "--older-than", "0s"); code != 0 || !strings.Contains(out, "removed 0 orphaned parts") {
		t.Fatalf("gc: exit %d, out %q, err %q", code, out, errs)
	}
	if _, errs, code = run(t, "ingest", "--store", dir, "--source", "weather", file); code == 0 || !strings.Contains(errs, `no contract for source "weather"`) {
		t.Fatalf("unknown source: exit %d, err %q", code, errs)
	}
}
