package blob_test

import (
	"testing"

	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/blob/blobtest"
)

// prefixedOver keeps the underlying store of each view, for corruptPrefixed.
var prefixedOver = map[*blob.Prefixed]*blob.Local{}

func TestPrefixedContract(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		under := openLocal(t)
		p, err := blob.WithPrefix(under, "banks/7/")
		if err != nil {
			t.Fatal(err)
		}
		prefixedOver[p] = under
		return p
	}, func(t *testing.T, s blob.Store, key string) {
		p := s.(*blob.Prefixed)
		corruptLocal(t, prefixedOver[p], p.Prefix()+key)
	})
}

func TestPrefixedHidesOtherKeys(t *testing.T) {
	under := openLocal(t)
	ctx := t.Context()
	for _, k := range []string{"raw/tax/a.parquet", "banks/7/raw/repayment/b.parquet", "banks/70/raw/repayment/c.parquet"} {
		if _, err := blob.PutBytes(ctx, under, k, []byte(k)); err != nil {
			t.Fatal(err)
		}
	}
	p, err := blob.WithPrefix(under, "banks/7/")
	if err != nil {
		t.Fatal(err)
	}
	infos, err := p.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[0].Key != "raw/repayment/b.parquet" {
		t.Fatalf("view lists %v, want only raw/repayment/b.parquet", infos)
	}
	root, err := under.List(ctx, "raw/")
	if err != nil {
		t.Fatal(err)
	}
	if len(root) != 1 {
		t.Fatalf("root raw/ lists %d objects, want 1", len(root))
	}
	for _, bad := range []string{"banks/7", "/banks/", "../x/", ""} {
		if _, err := blob.WithPrefix(under, bad); err == nil {
			t.Errorf("WithPrefix(%q) accepted", bad)
		}
	}
}
