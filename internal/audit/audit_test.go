package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
)

func fixedClock() func() time.Time {
	t0 := time.Date(2026, 11, 25, 8, 30, 0, 123456789, time.UTC)
	var mu sync.Mutex
	n := 0
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		n++
		return t0.Add(time.Duration(n-1) * time.Second)
	}
}

// TestHashFormat checks the documented hash formula against a hand-written
// canonical record, so the format cannot drift silently.
func TestHashFormat(t *testing.T) {
	db := metadbtest.SQLite(t)
	ctx := context.Background()
	l, err := audit.Open(ctx, db, audit.Options{Now: fixedClock()})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := l.Append(ctx, audit.Entry{Actor: "alice", Action: "model.create", Subject: "model:pd-smb",
		After: map[string]any{"task": "pd", "name": "pd-smb"}})
	if err != nil {
		t.Fatal(err)
	}
	canonical := `{"seq":1,"time":"2026-11-25T08:30:00.123456789Z","actor":"alice","action":"model.create","subject":"model:pd-smb","outcome":"ok","reason":"","before":null,"after":{"name":"pd-smb","task":"pd"}}`
	sum := sha256.Sum256([]byte(canonical + "\n" + audit.GenesisHash))
	if want := hex.EncodeToString(sum[:]); rec.Hash != want {
		t.Fatalf("hash %s, want %s", rec.Hash, want)
	}
	rec2, err := l.Append(ctx, audit.Entry{Actor: "bob", Action: "model.delete", Subject: "model:pd-smb", Outcome: audit.OutcomeRefused, Reason: "versions are immutable"})
	if err != nil {
		t.Fatal(err)
	}
	canonical2 := `{"seq":2,"time":"2026-11-25T08:30:01.123456789Z","actor":"bob","action":"model.delete","subject":"model:pd-smb","outcome":"refused","reason":"versions are immutable","before":null,"after":null}`
	sum2 := sha256.Sum256([]byte(canonical2 + "\n" + rec.Hash))
	if want := hex.EncodeToString(sum2[:]); rec2.Hash != want || rec2.PrevHash != rec.Hash {
		t.Fatalf("second record: hash %s prev %s, want %s prev %s", rec2.Hash, rec2.PrevHash, want, rec.Hash)
	}
}

func TestContract(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		l, err := audit.Open(ctx, db, audit.Options{VerifyBatch: 3})
		if err != nil {
			t.Fatal(err)
		}
		t.Run("empty log verifies", func(t *testing.T) {
			rep, err := l.Verify(ctx)
			if err != nil || rep.Records != 0 || rep.Head != audit.GenesisHash {
				t.Fatalf("got %+v, %v", rep, err)
			}
		})
		t.Run("concurrent appends form one chain", func(t *testing.T) {
			var wg sync.WaitGroup
			errs := make(chan error, 40)
			for w := 0; w < 4; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 10; i++ {
						_, err := l.Append(ctx, audit.Entry{Actor: fmt.Sprintf("u%d", w), Action: "test.append",
							Subject: fmt.Sprintf("model:m%d/%d", w, i), After: map[string]int{"i": i}})
						if err != nil {
							errs <- err
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			var calls, last int64
			rep, err := l.VerifyProgress(ctx, func(done, total int64) {
				calls++
				if total != 40 || done < last {
					t.Errorf("progress %d/%d after %d", done, total, last)
				}
				last = done
			})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Records != 40 {
				t.Fatalf("records %d, want 40", rep.Records)
			}
			// VerifyBatch 3: batches end at 3, 6, ..., 39, 40 (the last one short).
			if calls != 14 || last != 40 {
				t.Fatalf("progress called %d times ending at %d, want 14 ending at 40", calls, last)
			}
		})
		t.Run("verify while appending", func(t *testing.T) {
			done := make(chan error, 1)
			go func() {
				for i := 0; i < 30; i++ {
					if _, err := l.Append(ctx, audit.Entry{Actor: "w", Action: "test.during", Subject: "s"}); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			for i := 0; i < 10; i++ {
				if _, err := l.Verify(ctx); err != nil {
					t.Fatalf("verify during appends: %v", err)
				}
			}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, "DELETE FROM audit_log WHERE action = 'test.during'"); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, "UPDATE audit_head SET seq = 40, hash = (SELECT hash FROM audit_log WHERE seq = 40) WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("rolled back transaction leaves no record", func(t *testing.T) {
			boom := errors.New("boom")
			err := db.Tx(ctx, func(tx *metadb.Tx) error {
				if _, err := l.AppendTx(ctx, tx, audit.Entry{Actor: "a", Action: "x", Subject: "s"}); err != nil {
					return err
				}
				return boom
			})
			if !errors.Is(err, boom) {
				t.Fatal(err)
			}
			rep, err := l.Verify(ctx)
			if err != nil || rep.Records != 40 {
				t.Fatalf("after rollback: %+v, %v; want 40 records", rep, err)
			}
		})
		t.Run("invalid entry", func(t *testing.T) {
			if _, err := l.Append(ctx, audit.Entry{Actor: "a", Action: "x"}); !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("missing subject: got %v", err)
			}
			if _, err := l.Append(ctx, audit.Entry{Actor: "a", Action: "x", Subject: "s", After: func() {}}); !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("unencodable after: got %v", err)
			}
		})
		t.Run("list by subject prefix", func(t *testing.T) {
			recs, err := l.List(ctx, audit.Filter{SubjectPrefix: "model:m1"})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) != 10 {
				t.Fatalf("got %d records, want 10", len(recs))
			}
			for _, r := range recs {
				if r.Actor != "u1" {
					t.Fatalf("record of %s under model:m1", r.Actor)
				}
			}
		})
	})
}

func TestVerifyDetectsTampering(t *testing.T) {
	tests := []struct {
		name    string
		tamper  []string
		wantSeq int64
	}{
		{"edited actor", []string{"UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"}, 3},
		{"edited after", []string{`UPDATE audit_log SET after_json = '{"version":9}' WHERE seq = 2`}, 2},
		{"edited time", []string{"UPDATE audit_log SET at_ns = at_ns + 1 WHERE seq = 4"}, 4},
		{"removed middle", []string{"DELETE FROM audit_log WHERE seq = 2"}, 2},
		{"removed newest", []string{"DELETE FROM audit_log WHERE seq = 5"}, 5},
		{"removed newest and head rewound", []string{"DELETE FROM audit_log WHERE seq = 5", "UPDATE audit_head SET seq = 4"}, 4},
		{"inserted beyond head", []string{"INSERT INTO audit_log (seq, at_ns, actor, action, subject, outcome, reason, before_json, after_json, prev_hash, hash) SELECT 9, at_ns, actor, action, subject, outcome, reason, before_json, after_json, prev_hash, hash FROM audit_log WHERE seq = 5"}, 6},
		{"rehashed edit", []string{"UPDATE audit_log SET reason = 'ok', hash = prev_hash WHERE seq = 3"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
				ctx := context.Background()
				l, err := audit.Open(ctx, db, audit.Options{VerifyBatch: 2})
				if err != nil {
					t.Fatal(err)
				}
				for i := 1; i <= 5; i++ {
					if _, err := l.Append(ctx, audit.Entry{Actor: "alice", Action: "model.alias.move", Subject: "model:pd",
						Before: map[string]int{"version": i - 1}, After: map[string]int{"version": i}}); err != nil {
						t.Fatal(err)
					}
				}
				if _, err := l.Verify(ctx); err != nil {
					t.Fatalf("untouched chain: %v", err)
				}
				for _, q := range tt.tamper {
					if _, err := db.Exec(ctx, q); err != nil {
						t.Fatal(err)
					}
				}
				_, err = l.Verify(ctx)
				var ve *audit.VerifyError
				if !errors.As(err, &ve) || !errors.Is(err, audit.ErrTampered) {
					t.Fatalf("got %v, want a VerifyError", err)
				}
				if ve.Seq != tt.wantSeq {
					t.Fatalf("first bad seq %d (%s), want %d", ve.Seq, ve.Reason, tt.wantSeq)
				}
			})
		})
	}
}

func FuzzAppendJSON(f *testing.F) {
	for _, s := range []string{`{"b":1,"a":2}`, `[1,2.50,"x"]`, `null`, `12345678901234567890`, `{"a":`} {
		f.Add(s)
	}
	db := metadbtest.SQLite(f)
	ctx := context.Background()
	l, err := audit.Open(ctx, db, audit.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, s string) {
		rec, err := l.Append(ctx, audit.Entry{Actor: "fuzz", Action: "fuzz", Subject: "fuzz", After: json.RawMessage(s)})
		if !json.Valid([]byte(s)) {
			if !errors.Is(err, audit.ErrInvalid) {
				t.Fatalf("invalid JSON %q: got %v, want ErrInvalid", s, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("valid JSON %q: %v", s, err)
		}
		if !json.Valid(rec.After) {
			t.Fatalf("stored invalid JSON %q", rec.After)
		}
		if audit.Hash(rec) != rec.Hash {
			t.Fatal("hash of returned record differs")
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *metadb.DB
	}{{"sqlite", metadbtest.SQLite}, {"postgres", metadbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			ctx := context.Background()
			l, err := audit.Open(ctx, engine.open(b), audit.Options{})
			if err != nil {
				b.Fatal(err)
			}
			after := map[string]any{"version": 3, "digest": "3f2a"}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := l.Append(ctx, audit.Entry{Actor: "alice", Action: "bench", Subject: "model:pd", After: after}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	l, err := audit.Open(ctx, metadbtest.SQLite(b), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < 2000; i++ {
		if _, err := l.Append(ctx, audit.Entry{Actor: "alice", Action: "bench", Subject: "model:pd", After: map[string]int{"i": i}}); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := l.Verify(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2000*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppendParallel measures appends from concurrent callers (serving
// audits every assessment from many request goroutines).
func BenchmarkAppendParallel(b *testing.B) {
	for _, engine := range []struct {
		name string
		open func(testing.TB) *metadb.DB
	}{{"sqlite", metadbtest.SQLite}, {"postgres", metadbtest.Postgres}} {
		b.Run(engine.name, func(b *testing.B) {
			ctx := context.Background()
			l, err := audit.Open(ctx, engine.open(b), audit.Options{})
			if err != nil {
				b.Fatal(err)
			}
			after := map[string]any{"pd": 0.031, "rating": "B"}
			var mu sync.Mutex
			var lat []time.Duration
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					start := time.Now()
					if _, err := l.Append(ctx, audit.Entry{Actor: "bank-a", Action: "assessment", Subject: "company:91350100M000100Y43", After: after}); err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(start))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			}
		})
	}
}

// TestTwoWriters: two logs over one database (two serving processes) and
// AppendTx inside other transactions append at once; every record lands once, in
// one chain, whichever writer moved the head last.
func TestTwoWriters(t *testing.T) {
	metadbtest.Each(t, func(t *testing.T, db *metadb.DB) {
		ctx := context.Background()
		var logs [2]*audit.Log
		for i := range logs {
			l, err := audit.Open(ctx, db, audit.Options{})
			if err != nil {
				t.Fatal(err)
			}
			logs[i] = l
		}
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				l := logs[w%2]
				for i := range 15 {
					e := audit.Entry{Actor: fmt.Sprintf("w%d", w), Action: "test.two", Subject: fmt.Sprintf("s%d/%d", w, i)}
					var err error
					if w == 5 && i%3 == 0 {
						err = db.Tx(ctx, func(tx *metadb.Tx) error { _, err := l.AppendTx(ctx, tx, e); return err })
					} else {
						_, err = l.Append(ctx, e)
					}
					if err != nil {
						errs <- err
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		rep, err := logs[0].Verify(ctx)
		if err != nil || rep.Records != 90 {
			t.Fatalf("verify: %+v, %v; want 90 records in one chain", rep, err)
		}
		recs, err := logs[1].List(ctx, audit.Filter{Action: "test.two", Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, r := range recs {
			if seen[r.Subject] {
				t.Fatalf("subject %s recorded twice", r.Subject)
			}
			seen[r.Subject] = true
		}
		if len(seen) != 90 {
			t.Fatalf("%d distinct records, want 90", len(seen))
		}
	})
}
