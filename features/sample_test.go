package features

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// sampleStore is the hand universe materialized as of 2025-06-30 and 2025-07-31, with
// two default outcomes: c2 defaulted on 2025-09-10 (known 2025-09-12), c1 on
// 2026-07-15 but known only on 2026-09-01.
func sampleStore(t *testing.T) (blob.Store, *Catalog) {
	t.Helper()
	ctx := context.Background()
	store := handUniverse(t)
	cat := testCatalog(t)
	putRaw(t, store, "labels/month=2025-09/part-00000.parquet", []datasets.LabelRow{
		{Code: c2, EventDate: dd("2025-09-10"), ArrivalDate: dd("2025-09-12"), Kind: "default", Amount: 1000},
	})
	putRaw(t, store, "labels/month=2026-07/part-00000.parquet", []datasets.LabelRow{
		{Code: c1, EventDate: dd("2026-07-15"), ArrivalDate: dd("2026-09-01"), Kind: "default", Amount: 5000},
	})
	opts := Options{Set: "t", Catalog: cat, AsOf: []time.Time{day("2025-06-30").Time(), day("2025-07-31").Time()}}
	if _, err := Materialize(ctx, store, opts); err != nil {
		t.Fatal(err)
	}
	return store, cat
}

func TestBuildSampleNoLeakage(t *testing.T) {
	ctx := context.Background()
	store, cat := sampleStore(t)
	build := func(buildAt string) *SampleManifest {
		t.Helper()
		m, err := BuildSample(ctx, store, SampleOptions{AllCompanies: true, Name: "pd-" + buildAt, Set: "t", Catalog: cat,
			From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day(buildAt).Time(),
			ValidFrom: day("2025-07-01").Time(), TestFrom: day("2025-08-01").Time()})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	tests := []struct {
		buildAt             string
		trainRows, trainPos int64 // June snapshot: c1, c2
		validRows, validPos int64 // July snapshot: c1, c2, c3
	}{
		// June's window ends 2026-06-30, July's 2026-07-31: at 2026-07-15 only June is
		// complete. c2 defaulted inside both windows.
		{"2026-07-15", 2, 1, 0, 0},
		// July's window is complete but c1's default (2026-07-15) is not known until
		// 2026-09-01: it must not count.
		{"2026-08-31", 2, 1, 3, 1},
		// Once known, it counts for July (inside its window) and not for June (after).
		{"2026-09-01", 2, 1, 3, 2},
	}
	for _, tt := range tests {
		t.Run(tt.buildAt, func(t *testing.T) {
			m := build(tt.buildAt)
			tr, va := m.Splits["train"], m.Splits["valid"]
			if tr.Rows != tt.trainRows || tr.Positives != tt.trainPos {
				t.Errorf("train rows/positives = %d/%d, want %d/%d", tr.Rows, tr.Positives, tt.trainRows, tt.trainPos)
			}
			if va.Rows != tt.validRows || va.Positives != tt.validPos {
				t.Errorf("valid rows/positives = %d/%d, want %d/%d", va.Rows, va.Positives, tt.validRows, tt.validPos)
			}
			if m.BuildAt != tt.buildAt || m.Label.Name != "default_12m" || m.SetVersion != 1 {
				t.Errorf("lineage = %+v", m)
			}
		})
	}
	t.Run("versions", func(t *testing.T) {
		o := SampleOptions{AllCompanies: true, Name: "pd", Set: "t", Catalog: cat, From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day("2026-09-01").Time()}
		m1, err := BuildSample(ctx, store, o)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := BuildSample(ctx, store, o)
		if err != nil {
			t.Fatal(err)
		}
		if m1.Version != 1 || m2.Version != 2 {
			t.Errorf("versions = %d, %d, want 1, 2", m1.Version, m2.Version)
		}
	})
	t.Run("errors", func(t *testing.T) {
		for _, tt := range []struct {
			name string
			o    SampleOptions
			want error
		}{
			{"unknown label", SampleOptions{AllCompanies: true, Name: "x", Set: "t", Label: "fraud", From: day("2025-01-01").Time(), To: day("2025-12-31").Time()}, ErrUnknownLabel},
			{"unknown set", SampleOptions{AllCompanies: true, Name: "x", Set: "nope", From: day("2025-01-01").Time(), To: day("2025-12-31").Time()}, ErrUnknownSet},
			{"bad name", SampleOptions{AllCompanies: true, Name: "a/b", Set: "t", From: day("2025-01-01").Time(), To: day("2025-12-31").Time()}, ErrInvalidOptions},
			{"no complete window", SampleOptions{AllCompanies: true, Name: "x", Set: "t", From: day("2025-01-01").Time(), To: day("2025-12-31").Time(), BuildAt: day("2026-01-01").Time()}, ErrNoSnapshotStored},
		} {
			t.Run(tt.name, func(t *testing.T) {
				tt.o.Catalog = cat
				if _, err := BuildSample(ctx, store, tt.o); !errors.Is(err, tt.want) {
					t.Errorf("err = %v, want %v", err, tt.want)
				}
			})
		}
	})
}
