package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/freeport"
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

func TestIngestServeCommand(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	key, errs, code := run(t, "access", "user", "-store", store, "-institution", "上虞区税务局", "-kind", "department", "-user", "li", "-roles", "department")
	if code != 0 {
		t.Fatalf("access user: exit %d: %s", code, errs)
	}
	key = strings.TrimSpace(key)
	addr, err := freeport.Addr()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb bytes.Buffer
	go func() {
		done <- runMain(ctx, []string{"ingest", "serve", "-store", store, "-listen", addr, "-owner", "tax=上虞区税务局"}, &out, &errb)
	}()
	var b strings.Builder
	b.WriteString("纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n")
	for i := range 10 {
		code, _ := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		fmt.Fprintf(&b, "%s,2024-03,1000,30,0,30,100,2,0,A\n", code)
	}
	var resp *http.Response
	for range 100 {
		req, _ := http.NewRequest("POST", "http://"+addr+"/v1/ingest/tax?batch_id=m3", strings.NewReader(b.String()))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "text/csv")
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"accepted":10`) {
		t.Fatalf("POST: %d %s", resp.StatusCode, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exit %d: %s", code, errb.String())
	}
	out2, _, _ := run(t, "ingest", "status", "--store", store)
	found := false
	for _, line := range strings.Split(out2, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "tax" {
			found = f[1] == "1" && f[2] == "10"
		}
	}
	if !found {
		t.Fatalf("status does not show the batch of 10 rows:\n%s", out2)
	}
}
