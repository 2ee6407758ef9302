package financing_test

import (
	"context"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

func TestRegistryDirectory(t *testing.T) {
	ctx := context.Background()
	st, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := datasets.Generate(ctx, st, datasets.GenerateOptions{Companies: 30, Months: 2, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	reg, err := datasets.LoadDirectory(ctx, st, datasets.DayOf(datasets.Month(2023*12+1).LastDay().Time()))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := datasets.ReadRaw[datasets.CompanyRow](ctx, st, mustFirstCompanyPart(t, st))
	if err != nil {
		t.Fatal(err)
	}
	d := financing.RegistryDirectory(reg)
	want := rows[0]
	got, err := d.Company(ctx, want.Code)
	if err != nil {
		t.Fatal(err)
	}
	if got.Industry != want.Industry || got.District != want.District || !got.Founded.Equal(want.Founded.Time()) {
		t.Fatalf("company %+v, registry row %+v", got, want)
	}
	if got, _ := d.Company(ctx, firmA); got.Industry != "" || got.Code != firmA {
		t.Fatalf("unknown company %+v", got)
	}
}

func mustFirstCompanyPart(t *testing.T, st blob.Store) string {
	t.Helper()
	infos, err := st.List(context.Background(), "raw/companies/")
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range infos {
		if len(in.Key) > 8 && in.Key[len(in.Key)-8:] == ".parquet" {
			return in.Key
		}
	}
	t.Fatal("no companies part")
	return ""
}
