package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

// TestKilledWhileAppending runs concurrent appenders in a child process that
// prints each record as Append returns it and kills itself with SIGKILL while
// other appends are in flight. Every record the child was told is committed
// must then be in the log with the same hash, and the chain must verify.
func TestKilledWhileAppending(t *testing.T) {
	if os.Getenv("XINYI_AUDIT_KILL_CHILD") != "" {
		return // the child runs TestKilledWhileAppendingChild only
	}
	for _, engine := range []struct {
		name string
		dsn  func(testing.TB) string
	}{{"sqlite", metadbtest.SQLiteDSN}, {"postgres", metadbtest.PostgresDSN}} {
		t.Run(engine.name, func(t *testing.T) {
			dsn := engine.dsn(t)
			cmd := exec.Command(os.Args[0], "-test.run=^TestKilledWhileAppendingChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), "XINYI_AUDIT_KILL_CHILD="+dsn)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
			if err == nil || !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
				t.Fatalf("child did not die by SIGKILL: %v\n%s%s", err, out, stderr.Bytes())
			}
			acked := map[int64]string{}
			sc := bufio.NewScanner(bytes.NewReader(out))
			for sc.Scan() {
				seq, hash, ok := strings.Cut(sc.Text(), " ")
				n, err := strconv.ParseInt(seq, 10, 64)
				if !ok || err != nil || len(hash) != 64 {
					continue // a line cut short by the kill, or test output
				}
				acked[n] = hash
			}
			if len(acked) < 100 {
				t.Fatalf("the child acknowledged %d records before dying, want at least 100\n%s", len(acked), stderr.Bytes())
			}

			ctx := context.Background()
			db, err := metadb.Open(ctx, dsn, metadb.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			l, err := audit.Open(ctx, db, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			rep, err := l.Verify(ctx)
			if err != nil {
				t.Fatalf("verify after kill: %v", err)
			}
			for seq, hash := range acked {
				recs, err := l.List(ctx, audit.Filter{AfterSeq: seq - 1, Limit: 1})
				if err != nil {
					t.Fatal(err)
				}
				if len(recs) != 1 || recs[0].Seq != seq || recs[0].Hash != hash {
					t.Fatalf("acknowledged record %d (%s) is not in the log after the kill (log has %d records)", seq, hash, rep.Records)
				}
			}
			t.Logf("%d records acknowledged, %d in the log", len(acked), rep.Records)
		})
	}
}

// TestKilledWhileAppendingChild is the child half of TestKilledWhileAppending.
func TestKilledWhileAppendingChild(t *testing.T) {
	dsn := os.Getenv("XINYI_AUDIT_KILL_CHILD")
	if dsn == "" {
		t.Skip("runs only as the child of TestKilledWhileAppending")
	}
	ctx := context.Background()
	db, err := metadb.Open(ctx, dsn, metadb.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		acked atomic.Int64
		mu    sync.Mutex
		wg    sync.WaitGroup
	)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				rec, err := l.Append(ctx, audit.Entry{Actor: fmt.Sprintf("bank-%d", g), Action: "assessment",
					Subject: "company:91350100M000100Y43", After: map[string]any{"i": i, "pd": 0.03}})
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					return
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "%d %s\n", rec.Seq, rec.Hash) // unbuffered: written before the next append
				mu.Unlock()
				if acked.Add(1) == 400 {
					_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
					select {} // the signal ends the process
				}
			}
		}()
	}
	wg.Wait()
	t.Fatal("every appender stopped before the kill")
}
