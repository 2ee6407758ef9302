package lab_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// TestUploadRefusesCategoricalBomb: the console's upload form, given about
// 200 KB of LightGBM text whose categorical splits all name one large range
// (1 GB once copied per split), answers 400 naming the category-word bound,
// quickly, with little memory, and creates neither a model nor a version.
func TestUploadRefusesCategoricalBomb(t *testing.T) {
	env, srv := setup(t)
	sci := as(t, env, srv, labtest.Scientist)
	names := make([]string, 30) // the columns of breast-cancer/v1
	for i := range names {
		names[i] = fmt.Sprintf("Column_%d", i)
	}
	bomb := gbdttest.CategoricalBomb(gbdttest.BombSplits, gbdttest.BombWords, names...)
	tok := sci.csrf("/lab/upload")
	var p page
	alloc, elapsed := gbdttest.Cost(func() { p = sci.upload("pd-bomb", "breast-cancer/v1", "bomb.txt", bomb, nil, tok) })
	if p.status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400\n%s", p.status, p.body)
	}
	for _, says := range []string{"bomb.txt", "too many category words", "limit 65536 per tree"} {
		if !strings.Contains(p.body, says) {
			t.Errorf("page does not say %q", says)
		}
	}
	noLeak(t, p)
	t.Logf("answered %d in %v after allocating %d bytes", p.status, elapsed, alloc)
	if alloc > gbdttest.BombMaxAlloc {
		t.Errorf("allocated %d bytes refusing the bomb, limit %d", alloc, gbdttest.BombMaxAlloc)
	}
	if elapsed > gbdttest.BombMaxTime {
		t.Errorf("took %v refusing the bomb, limit %v", elapsed, gbdttest.BombMaxTime)
	}
	ms, err := env.Models.Models(context.Background(), env.Principal(t, labtest.Scientist))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.Name == "pd-bomb" {
			t.Errorf("the refused upload left model %s with %d versions", m.Name, m.Versions)
		}
	}
}
