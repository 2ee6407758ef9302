package datasets

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

func TestVisibleParts(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	put := func(key, body string) blob.Info {
		in, err := store.Put(ctx, key, bytes.NewReader([]byte(body)))
		if err != nil {
			t.Fatal(err)
		}
		return in
	}
	m := Month(2024*12 + 1)
	put("raw/tax/month=2024-02/part-00000.parquet", "generated")
	committed := put(BatchPartKey("tax", m, "aaaa", 0), "committed")
	put(BatchPartKey("tax", m, "bbbb", 0), "never committed")
	put(BatchPartKey("tax", m, "cccc", 0), "replaced after commit")
	man := BatchManifest{ID: "b1", Source: "tax", Parts: []BatchPart{
		{Key: committed.Key, SHA256: committed.SHA256},
		{Key: BatchPartKey("tax", m, "cccc", 0), SHA256: "00"},
	}}
	data, _ := json.Marshal(man)
	put(BatchManifestKey("tax", "b1"), string(data))

	infos, err := store.List(ctx, "raw/tax/")
	if err != nil {
		t.Fatal(err)
	}
	vis, err := VisibleParts(ctx, store, "tax", infos)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range vis {
		got = append(got, in.Key)
	}
	want := []string{committed.Key, "raw/tax/month=2024-02/part-00000.parquet", BatchManifestKey("tax", "b1")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("visible %v, want %v", got, want)
	}
}
