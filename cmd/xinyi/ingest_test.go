package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
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
	if out, errs, code = run(t, "ingest", "gc", "--store", dir, "--older-than", "0s", "--temp-dir", t.TempDir()); code != 0 || !strings.Contains(out, "removed 0 orphaned parts and 0 temporary files") {
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
	if batchesOf(out2, "tax") != "1 10" {
		t.Fatalf("status does not show the batch of 10 rows:\n%s", out2)
	}
}

const ingestChildEnv = "XINYI_INGEST_CHILD_ARGS"

// TestIngestChild is the child half of TestIngestKilledMidBatch: it runs xinyi with
// the arguments in $XINYI_INGEST_CHILD_ARGS.
func TestIngestChild(t *testing.T) {
	raw := os.Getenv(ingestChildEnv)
	if raw == "" {
		t.Skip("runs only as the child of TestIngestKilledMidBatch")
	}
	var args []string
	if err := json.Unmarshal([]byte(raw), &args); err != nil {
		t.Fatal(err)
	}
	os.Exit(runMain(context.Background(), args, os.Stdout, os.Stderr))
}

// TestIngestKilledMidBatch kills `xinyi ingest` (SIGKILL) once it has written
// some parts of a large batch: nothing of the batch is visible, `xinyi ingest gc`
// removes what it left, and delivering the file again loads every row once.
func TestIngestKilledMidBatch(t *testing.T) {
	if os.Getenv(ingestChildEnv) != "" {
		return
	}
	if testing.Short() {
		t.Skip("writes and loads a 2-million-row file")
	}
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	file := filepath.Join(dir, "tax.csv")
	const companies, months = 60_000, 36
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	w.WriteString("纳税人识别号,所属期,销售额,增值税,企业所得税,实缴税额,利润总额,开票数量,欠税金额,纳税信用等级\n")
	codes := make([]string, companies)
	for i := range codes {
		codes[i], _ = creditcode.New('9', '1', "330604", fmt.Sprintf("M%07d", i))
	}
	for m := range months {
		for i, c := range codes {
			fmt.Fprintf(w, "%s,%04d-%02d,%d.5,30,0,30,100,%d,0,B\n", c, 2021+m/12, m%12+1, 1000+i, i%50)
		}
	}
	w.Flush()
	f.Close()

	child := exec.Command(os.Args[0], "-test.run=^TestIngestChild$", "-test.count=1")
	args, _ := json.Marshal([]string{"ingest", "--store", store, "--source", "tax", "--batch-id", "big", file})
	// The child's spill files, left by the kill, go with the test's folder.
	tmp := filepath.Join(dir, "tmp")
	os.Mkdir(tmp, 0o755)
	child.Env = append(os.Environ(), ingestChildEnv+"="+string(args), "TMPDIR="+tmp)
	var childOut bytes.Buffer
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	parts := func() []string {
		m, _ := filepath.Glob(filepath.Join(store, "raw", "tax", "month=*", "batch-*.parquet"))
		return m
	}
	for deadline := time.Now().Add(60 * time.Second); len(parts()) < 3; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			child.Process.Kill()
			t.Fatalf("no part written within a minute:\n%s", childOut.String())
		}
	}
	child.Process.Kill()
	child.Wait()
	if m, _ := filepath.Glob(filepath.Join(store, "raw", "tax", "_batches", "*")); len(m) != 0 {
		t.Fatalf("the batch was committed before the kill (%v): the test shows nothing", m)
	}
	left := len(parts())
	if out, _, _ := run(t, "ingest", "status", "--store", store); batchesOf(out, "tax") != "0" {
		t.Fatalf("status after the kill:\n%s", out)
	}
	spills, _ := filepath.Glob(filepath.Join(tmp, "xinyi-ingest-*"))
	out, errs, code := run(t, "ingest", "gc", "--store", store, "--older-than", "0s", "--temp-dir", tmp)
	if code != 0 || out != fmt.Sprintf("removed %d orphaned parts and %d temporary files\n", left, len(spills)) || len(spills) == 0 {
		t.Fatalf("gc: exit %d, %q %q; the kill left %d parts and %d spill files", code, out, errs, left, len(spills))
	}
	out, errs, code = run(t, "ingest", "--store", store, "--source", "tax", "--batch-id", "big", file)
	want := fmt.Sprintf("%d rows, %d accepted (%d new, 0 corrected, 0 unchanged), 0 rejected", companies*months, companies*months, companies*months)
	if code != 0 || !strings.Contains(out, want) {
		t.Fatalf("retry: exit %d, %q %q", code, out, errs)
	}
}

// batchesOf returns the BATCHES and ROWS columns of a source in `xinyi ingest status`.
func batchesOf(status, source string) string {
	for _, line := range strings.Split(status, "\n") {
		if f := strings.Fields(line); len(f) >= 3 && f[0] == source {
			if f[1] == "0" {
				return "0"
			}
			return f[1] + " " + f[2]
		}
	}
	return ""
}
