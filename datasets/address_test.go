package datasets

import (
	"context"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/internal/blob"
)

// TestRegisteredAddresses: every generated company has a registered address in
// its own district of 佛山, on one of that district's roads, the same for the
// same code; and addresses are spread out (few companies share one).
func TestRegisteredAddresses(t *testing.T) {
	ctx := context.Background()
	store, err := blob.OpenLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if _, err := Generate(ctx, store, GenerateOptions{Companies: 600, Months: 2, Seed: 11, Workers: 2}); err != nil {
		t.Fatal(err)
	}
	dir, err := LoadDirectory(ctx, store, Day(1<<30))
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]int{}
	for i, d := range districts {
		byName[d.Name] = i
	}
	seen := map[string]int{}
	for _, code := range dir.Codes() {
		r, _ := dir.Company(code)
		prefix := "广东省佛山市" + r.DistrictName
		if !strings.HasPrefix(r.Address, prefix) {
			t.Fatalf("%s in %s has the address %q", code, r.DistrictName, r.Address)
		}
		rest := strings.TrimPrefix(r.Address, prefix)
		onRoad := false
		for _, road := range streets[byName[r.DistrictName]] {
			onRoad = onRoad || strings.HasPrefix(rest, road)
		}
		if !onRoad || !strings.Contains(rest, "号") {
			t.Fatalf("%s: %q is not on a road of %s", code, r.Address, r.DistrictName)
		}
		if got := registeredAddress(code, uint8(byName[r.DistrictName])); got != r.Address {
			t.Fatalf("%s: address %q, again %q", code, r.Address, got)
		}
		seen[r.Address]++
	}
	if len(seen) < dir.Len()*95/100 {
		t.Fatalf("%d distinct addresses for %d companies", len(seen), dir.Len())
	}
}
