package main

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// TestMaterializeInShards materializes one generated universe in this process and,
// from a copy, with --shards 3 run by a `xinyi worker --queues materialize=1` child
// process: the summary reports the same snapshots and rows, the snapshots hold the
// same values, and `xinyi jobs` lists the plan, the three shards and the commit.
func TestMaterializeInShards(t *testing.T) {
	if os.Getenv(workerChildEnv) != "" {
		return // the child runs TestWorkerChild only
	}
	dir := t.TempDir()
	single, sharded := filepath.Join(dir, "single"), filepath.Join(dir, "sharded")
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("xinyi %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
		}
		return strings.TrimSpace(out)
	}
	const asof = "2024-06-30,2024-12-31"
	for _, s := range []string{single, sharded} {
		must("generate", "-companies", "800", "-months", "24", "-seed", "5", "-out", s)
	}
	one := must("features", "materialize", "-store", single, "-set", "pd", "-asof", asof)

	if _, errOut, code := run(t, "features", "materialize", "-store", sharded, "-set", "pd", "-asof", asof, "-detach"); code == 0 || !strings.Contains(errOut, "--detach needs --queue") {
		t.Errorf("--detach alone: exit %d, %s", code, errOut)
	}
	child := exec.Command(os.Args[0], "-test.run=^TestWorkerChild$", "-test.count=1", "-test.v")
	args, _ := json.Marshal([]string{"worker", "-store", sharded, "-queues", "materialize=1", "-workers", "1"})
	child.Env = append(os.Environ(), workerChildEnv+"="+string(args))
	var childOut bytes.Buffer
	child.Stdout, child.Stderr = &childOut, &childOut
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Process.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if code := runMain(ctx, []string{"features", "materialize", "-store", sharded, "-set", "pd", "-asof", asof, "-shards", "3"}, &out, &errOut); code != 0 {
		t.Fatalf("sharded materialize: exit %d\n%s%s\nworker:\n%s", code, out.String(), errOut.String(), childOut.String())
	}
	summary := regexp.MustCompile(`^materialized pd/v1: (\d+ snapshots \(\d+ already existed\), \d+ rows, \d+ companies, \d+ raw records from \d+ files) in .* (\d+) shards\)$`)
	got, want := summary.FindStringSubmatch(strings.TrimSpace(out.String())), summary.FindStringSubmatch(one)
	if got == nil || want == nil || got[1] != want[1] || got[2] != "3" {
		t.Fatalf("sharded summary %q\nsingle-process summary %q", out.String(), one)
	}
	if !strings.Contains(errOut.String(), "shard 2: ") {
		t.Errorf("no per-shard cost in\n%s", errOut.String())
	}
	a, _ := blob.OpenLocal(single)
	b, _ := blob.OpenLocal(sharded)
	for _, d := range strings.Split(asof, ",") {
		t0, _ := time.Parse(time.DateOnly, d)
		ws, _, err := features.ReadSnapshot(ctx, a, "pd", 1, features.DayOf(t0))
		if err != nil {
			t.Fatal(err)
		}
		gs, gm, err := features.ReadSnapshot(ctx, b, "pd", 1, features.DayOf(t0))
		if err != nil {
			t.Fatal(err)
		}
		w := len(ws.Names)
		idx := map[string]int{}
		for i, c := range ws.Codes {
			idx[c] = i
		}
		if len(gs.Codes) != len(ws.Codes) || gm.Shards() != 3 {
			t.Fatalf("as of %s: %d rows in %d shards, want %d rows in 3", d, len(gs.Codes), gm.Shards(), len(ws.Codes))
		}
		for i, c := range gs.Codes {
			for j := range w {
				g, x := gs.Values[i*w+j], ws.Values[idx[c]*w+j]
				if math.Float64bits(g) != math.Float64bits(x) && !(math.IsNaN(g) && math.IsNaN(x)) {
					t.Fatalf("as of %s: %s %s = %v, want %v", d, c, ws.Names[j], g, x)
				}
			}
		}
	}
	list := must("jobs", "-store", sharded, "-kind", "materialize_plan,materialize_shard,materialize_commit")
	for _, w := range []string{`materialize_plan +completed +1/5 +1/1 \(100%\)`, `materialize_commit +completed +1/5 +2/2 \(100%\)`, `5 jobs: 5 completed`} {
		if !regexp.MustCompile(w).MatchString(list) {
			t.Errorf("jobs list does not match %q:\n%s", w, list)
		}
	}
	if n := len(regexp.MustCompile(`materialize_shard +completed +1/5 +(\d+)/(\d+) \(100%\)`).FindAllString(list, -1)); n != 3 {
		t.Errorf("%d completed shard jobs listed, want 3:\n%s", n, list)
	}
	// Every snapshot exists: a detached request returns at once with the job id.
	if out := must("features", "materialize", "-store", sharded, "-set", "pd", "-asof", asof, "-shards", "3", "-detach"); !regexp.MustCompile(`enqueued job \d+ on the "materialize" queue`).MatchString(out) {
		t.Errorf("detached request: %q", out)
	}

	if err := child.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := child.Wait(); err != nil {
		t.Fatalf("worker did not stop cleanly: %v\n%s", err, childOut.String())
	}
}
