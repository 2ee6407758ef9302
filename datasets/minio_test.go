package datasets

import (
	"context"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/blob/miniotest"
)

// TestGenerateMinIO writes a small universe to a real MinIO server and checks
// that it holds exactly the files (same keys, same sha256) of the in-memory run,
// and that a month reads back through ReadMonth.
func TestGenerateMinIO(t *testing.T) {
	srv := miniotest.Start(t)
	store := srv.Open(t)
	ctx := context.Background()
	o := GenerateOptions{Companies: 600, Months: 3, Seed: 21, ShardSize: 250}
	sum, err := Generate(ctx, store, o)
	if err != nil {
		t.Fatal(err)
	}
	mem, _ := generateSmall(t, o)
	want, _ := mem.List(ctx, "")
	got, err := store.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) != sum.Files {
		t.Fatalf("MinIO holds %d objects, memory %d, summary %d", len(got), len(want), sum.Files)
	}
	for i := range got {
		if got[i].Key != want[i].Key || got[i].SHA256 != want[i].SHA256 {
			t.Fatalf("object %d: MinIO %s %s, memory %s %s", i, got[i].Key, got[i].SHA256, want[i].Key, want[i].SHA256)
		}
	}
	tax, _ := SourceByName(SourceTax)
	rows, err := ReadMonth[TaxRow](ctx, store, tax, Month(2023*12+1))
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 500 {
		t.Errorf("read %d tax rows for 2023-02 from MinIO, want most of 600 companies", len(rows))
	}
}
