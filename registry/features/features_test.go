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
	ref, got, err := fs.FeatureSet(ctx, xfeatures.SetRef{Name: "pd", Version: 1})
	if err != nil || ref.String() != "pd/v1" || len(got) != len(want.Indicators) || got[0] != want.Indicators[0] {
		t.Fatalf("pd v1: %s, %d columns, %v", ref, len(got), err)
	}
	got[0] = "changed"
	if _, again, _ := fs.FeatureSet(ctx, xfeatures.SetRef{Name: "pd", Version: 1}); again[0] == "changed" {
		t.Fatal("FeatureSet returned the catalog's own slice")
	}
	// A bare name is the latest version, resolved to an exact reference.
	latest, err := cat.Set("pd", 0)
	if err != nil {
		t.Fatal(err)
	}
	if ref, _, err := fs.FeatureSet(ctx, xfeatures.SetRef{Name: "pd"}); err != nil || ref != latest.Ref() {
		t.Fatalf("bare pd: %s, %v; want %s", ref, err, latest.Ref())
	}
	for _, tt := range []xfeatures.SetRef{{Name: "pd", Version: 99}, {Name: "nope", Version: 1}, {Name: "nope"}, {Name: "pd", Version: -1}} {
		if _, _, err := fs.FeatureSet(ctx, tt); !errors.Is(err, registry.ErrUnknownFeatureSet) {
			t.Errorf("%+v: got %v, want ErrUnknownFeatureSet", tt, err)
		}
	}
}
