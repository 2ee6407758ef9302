package inspection

import (
	"context"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/serving"
)

// BenchmarkDrawRegion draws a plan from a screening of 120,000 firms at the
// default policy's ratios (high 6,000 at 1.0, medium 24,000 at 0.3, low 90,000 at
// 0.1: 22,200 firms) into SQLite and PostgreSQL: reading the screening, drawing, and storing the
// plan with its audit record.
func BenchmarkDrawRegion(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchDraw(b, metadbtest.SQLite(b)) })
	b.Run("postgres", func(b *testing.B) { benchDraw(b, metadbtest.Postgres(b)) })
}

func benchDraw(b *testing.B, db *metadb.DB) {
	ctx := context.Background()
	e := newEnv(b, db)
	var rows []serving.ScreenRow
	for i := range 120_000 {
		tier, ratio := "low", 0.1
		switch {
		case i < 6000:
			tier, ratio = "high", 1
		case i < 30000:
			tier, ratio = "medium", 0.3
		}
		rows = append(rows, serving.ScreenRow{Rank: i + 1, Company: code(b, i), Probability: 1 - float64(i)/120000, Tier: tier, SamplingRatio: ratio})
	}
	res := &serving.ScreenResult{ID: "1-region", Task: serving.TaskViolation, AsOf: time.Now(), Companies: len(rows), Rows: rows}
	if _, err := serving.WriteScreening(ctx, e.store, res); err != nil {
		b.Fatal(err)
	}
	res.Rows = nil
	e.jobs["1-region"] = serving.Job{ID: "1-region", State: serving.JobDone, InstitutionID: e.reg.InstitutionID, Result: res}
	b.ResetTimer()
	for b.Loop() {
		p, err := e.svc.Draw(ctx, e.reg, "1-region", DrawOptions{Inspectors: staff})
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Items) != 6000+7200+9000 {
			b.Fatalf("drew %d firms", len(p.Items))
		}
	}
}
