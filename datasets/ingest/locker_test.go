package ingest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/minio"
	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// childEnv carries a child's work as JSON.
const childEnv = "XINYI_INGEST_CHILD"

// childWork is what one child process ingests, and how.
type childWork struct {
	Dir   string         // local store folder, or
	MinIO *minio.Options // a MinIO bucket
	DSN   string         // metadata database
	File  string         // CSV of the batch
	Day   string         // day of arrival
	Mode  string         // "hold": keep the lock a while; "die": SIGKILL before the manifest
	TTL   time.Duration  // lease TTL
}

func openChildStore(ctx context.Context, w childWork) (blob.Store, error) {
	if w.MinIO != nil {
		return minio.Open(ctx, *w.MinIO)
	}
	return blob.OpenLocal(w.Dir)
}

// TestIngestChild is the child process of TestIngestAcrossProcesses: it ingests
// one batch with the database's lock and prints when it held it.
func TestIngestChild(t *testing.T) {
	spec := os.Getenv(childEnv)
	if spec == "" {
		t.Skip("run by TestIngestAcrossProcesses")
	}
	var w childWork
	if err := json.Unmarshal([]byte(spec), &w); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := openChildStore(ctx, w)
	if err != nil {
		t.Fatal(err)
	}
	db, err := metadb.Open(ctx, w.DSN, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testHook = func(stage string) {
		fmt.Printf("stage %s %d\n", stage, time.Now().UnixNano())
		switch {
		case stage == "locked" && w.Mode == "hold":
			time.Sleep(300 * time.Millisecond) // the other process is waiting now
		case stage == "commit" && w.Mode == "die":
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		}
	}
	f, err := os.Open(w.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g := New(store).WithLocker(DBLocker(db, DBLockOptions{TTL: w.TTL}))
	rep, err := g.Ingest(ctx, "tax", []Input{{Name: filepath.Base(w.File), R: f}}, Options{Now: clock(w.Day)})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("batch %s corrected %d\n", rep.ID, rep.Corrected)
}

type childProc struct {
	cmd *exec.Cmd
	out strings.Builder
}

func startIngestChild(t *testing.T, w childWork) *childProc {
	t.Helper()
	spec, _ := json.Marshal(w)
	c := &childProc{cmd: exec.Command(os.Args[0], "-test.run=^TestIngestChild$", "-test.count=1", "-test.v")}
	c.cmd.Env = append(os.Environ(), childEnv+"="+string(spec))
	c.cmd.Stdout, c.cmd.Stderr = &c.out, &c.out
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.cmd.Process.Kill() })
	return c
}

// stages returns the times a child printed for each stage.
func (c *childProc) stages(t *testing.T) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(c.out.String()))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 3 && f[0] == "stage" {
			n, _ := strconv.ParseInt(f[2], 10, 64)
			out[f[1]] = n
		}
	}
	return out
}

// TestIngestAcrossProcesses runs two OS processes that ingest corrections of the
// same 20 tax facts at once, through the metadata database's lock: on SQLite
// with a local folder, and on PostgreSQL with MinIO. Their locked sections do
// not overlap, and the revisions are exactly a serial order's: the first
// process's values are revision 1 of every key and the second's revision 2.
// Then a process is SIGKILLed holding the lock, just before its manifest: the
// next batch waits no longer than the lease's TTL, nothing of the dead batch is
// visible, and the next batch takes revision 3.
func TestIngestAcrossProcesses(t *testing.T) {
	type deployment struct {
		dsn   string
		store func(t *testing.T) (blob.Store, childWork)
	}
	deps := map[string]func(t *testing.T) deployment{
		"sqlite+local": func(t *testing.T) deployment {
			return deployment{dsn: metadbtest.SQLiteDSN(t), store: func(t *testing.T) (blob.Store, childWork) {
				dir := t.TempDir()
				st, err := blob.OpenLocal(dir)
				if err != nil {
					t.Fatal(err)
				}
				return st, childWork{Dir: dir}
			}}
		},
		"postgres+minio": func(t *testing.T) deployment {
			return deployment{dsn: metadbtest.PostgresDSN(t), store: func(t *testing.T) (blob.Store, childWork) {
				srv := miniotest.Shared(t)
				st := srv.Open(t)
				o := srv.Options(st.Bucket())
				return st, childWork{MinIO: &o}
			}}
		},
	}
	for name, dep := range deps {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			d := dep(t)
			store, base := d.store(t)
			base.DSN, base.TTL = d.dsn, 2*time.Second
			db, err := metadb.Open(ctx, d.dsn, metadb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			g := New(store).WithLocker(DBLocker(db, DBLockOptions{}))
			const n = 20
			if _, err := g.Ingest(ctx, "tax", []Input{{Name: "a.csv", R: strings.NewReader(taxCSV(t, n, "2024-03", func(int) string { return "1" }))}},
				Options{Now: clock("2024-04-10")}); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			file := func(v int) string {
				p := filepath.Join(dir, fmt.Sprintf("v%d.csv", v))
				if err := os.WriteFile(p, []byte(taxCSV(t, n, "2024-03", func(int) string { return strconv.Itoa(v) })), 0o644); err != nil {
					t.Fatal(err)
				}
				return p
			}
			var kids []*childProc
			for _, v := range []int{2, 3} {
				w := base
				w.File, w.Day, w.Mode = file(v), "2024-04-20", "hold"
				kids = append(kids, startIngestChild(t, w))
			}
			for _, c := range kids {
				if err := c.cmd.Wait(); err != nil {
					t.Fatalf("child: %v\n%s", err, c.out.String())
				}
			}
			a, b := kids[0].stages(t), kids[1].stages(t)
			valueOf := map[*childProc]float64{kids[0]: 20000, kids[1]: 30000}
			first, second := kids[0], kids[1]
			if b["locked"] < a["locked"] {
				first, second = second, first
				a, b = b, a
			}
			if a["locked"] == 0 || b["locked"] == 0 || a["committed"] == 0 {
				t.Fatalf("stages missing: %v %v\n%s\n%s", a, b, first.out.String(), second.out.String())
			}
			if b["locked"] < a["committed"] {
				t.Fatalf("the second process took the lock %v before the first committed", time.Duration(a["committed"]-b["locked"]))
			}
			march, _ := datasets.ParseMonth("2024-03")
			want := map[int32]float64{0: 10000, 1: valueOf[first], 2: valueOf[second]}
			checkRevisions(t, store, march, n, want)

			// A process dies holding the lock, after writing its parts.
			w := base
			w.File, w.Day, w.Mode = file(4), "2024-04-21", "die"
			dying := startIngestChild(t, w)
			err = dying.cmd.Wait()
			if ws, ok := dying.cmd.ProcessState.Sys().(syscall.WaitStatus); err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL: %v\n%s", err, dying.out.String())
			}
			if dying.stages(t)["commit"] == 0 {
				t.Fatalf("child died before holding the lock:\n%s", dying.out.String())
			}
			start := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 10*base.TTL)
			defer cancel()
			rep, err := g.Ingest(wctx, "tax", []Input{{Name: "v5.csv", R: strings.NewReader(taxCSV(t, n, "2024-03", func(int) string { return "5" }))}},
				Options{Now: clock("2024-04-22")})
			if err != nil {
				t.Fatalf("after the killed holder: %v", err)
			}
			if waited := time.Since(start); waited > base.TTL+5*time.Second {
				t.Fatalf("waited %v for a lock whose holder died, TTL %v", waited, base.TTL)
			}
			if rep.Corrected != n {
				t.Fatal(rep.Summary())
			}
			want[3] = 50000
			checkRevisions(t, store, march, n, want)
		})
	}
}

// checkRevisions checks that each of the n companies has exactly the revisions
// of want, each with its sales.
func checkRevisions(t *testing.T, store blob.Store, m datasets.Month, n int, want map[int32]float64) {
	t.Helper()
	got := map[string]map[int32]float64{}
	for _, r := range visibleTax(t, store, m) {
		if got[r.Code] == nil {
			got[r.Code] = map[int32]float64{}
		}
		if _, dup := got[r.Code][r.Revision]; dup {
			t.Fatalf("%s has revision %d twice", r.Code, r.Revision)
		}
		got[r.Code][r.Revision] = r.Sales
	}
	if len(got) != n {
		t.Fatalf("%d companies visible, want %d", len(got), n)
	}
	for code, revs := range got {
		if len(revs) != len(want) {
			t.Fatalf("%s has revisions %v, want %v", code, revs, want)
		}
		for rev, sales := range want {
			if revs[rev] != sales {
				t.Fatalf("%s revision %d has sales %v, want %v (all: %v)", code, rev, revs[rev], sales, revs)
			}
		}
	}
}
