package gbdt

import (
	"errors"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// TestHugeCatBoundaries: the last cat_boundaries entry sets how many
// cat_threshold words to read; a count the text cannot hold must be refused
// without reserving memory for it (it once reserved 32 GB for 4e9 and panicked
// on 9e18).
func TestHugeCatBoundaries(t *testing.T) {
	for _, n := range []int64{2, 4_000_000_000, 9_000_000_000_000_000_000} {
		data := gbdttest.HugeCatBoundaries(n)
		var err error
		alloc, _ := gbdttest.Cost(func() { _, err = Parse(data, Limits{}) })
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "cat_threshold has 1 values") {
			t.Fatalf("cat_boundaries end %d: error %v, want ErrCorrupt about cat_threshold", n, err)
		}
		if alloc > 1<<20 {
			t.Errorf("cat_boundaries end %d: allocated %d bytes for a %d-byte file", n, alloc, len(data))
		}
	}
	if _, err := Parse(gbdttest.HugeCatBoundaries(1), Limits{}); err != nil {
		t.Fatalf("the same file with a true count: %v", err)
	}
}
