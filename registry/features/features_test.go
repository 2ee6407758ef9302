package features_test

import (
	"context"
	"errors"
	"testing"

	xfeatures "github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/registry"
	"github.com/xinyi-platform/xinyi/registry/features"
)

func TestCatalog(t *testing.T) {
	cat, err := xfeatures.DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	fs := features.New(cat)
	ctx := context.Background()
	want, err := cat.Set("pd", 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fs.FeatureSet(ctx, "pd", 1)
	if err != nil || len(got) != len(want.Indicators) || got[0] != want.Indicators[0] {
		t.Fatalf("pd v1: %d columns, %v", len(got), err)
	}
	got[0] = "changed"
	if again, _ := fs.FeatureSet(ctx, "pd", 1); again[0] == "changed" {
		t.Fatal("FeatureSet returned the catalog's own slice")
	}
	for _, tt := range []struct {
		name    string
		version int
	}{{"pd", 99}, {"nope", 1}, {"pd", 0}} {
		if _, err := fs.FeatureSet(ctx, tt.name, tt.version); !errors.Is(err, registry.ErrUnknownFeatureSet) {
			t.Errorf("%s v%d: got %v, want ErrUnknownFeatureSet", tt.name, tt.version, err)
		}
	}
}
