package httpapi_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/gbdt/gbdttest"
)

// TestUploadRefusesCategoricalBomb: about 200 KB of LightGBM text whose
// categorical splits all name one large range was once accepted (201) as a
// 50 MB artifact while the server grew by 1.1 GB. It must be answered 422
// naming the category-word bound, quickly, with little memory, storing nothing.
func TestUploadRefusesCategoricalBomb(t *testing.T) {
	f := newFixture(t)
	const base = "/v1/registry"
	if code, body := f.json(t, "alice", "POST", base+"/models", map[string]any{"name": "pd", "task": "pd"}); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	bomb := gbdttest.CategoricalBomb(gbdttest.BombSplits, gbdttest.BombWords, gmscNames...)
	upload := base + "/models/pd/versions?feature_set=gmsc&feature_set_version=1"
	var code int
	var body []byte
	alloc, elapsed := gbdttest.Cost(func() { code, body = f.do(t, "alice", "POST", upload, bytes.NewReader(bomb), "") })
	if code != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422: %s", code, body)
	}
	for _, says := range []string{"too many category words", "5000 categorical splits", "limit 65536 per tree"} {
		if !strings.Contains(string(body), says) {
			t.Errorf("answer %s does not say %q", body, says)
		}
	}
	t.Logf("answered %d in %v after allocating %d bytes", code, elapsed, alloc)
	if alloc > gbdttest.BombMaxAlloc {
		t.Errorf("allocated %d bytes refusing the bomb, limit %d", alloc, gbdttest.BombMaxAlloc)
	}
	if elapsed > gbdttest.BombMaxTime {
		t.Errorf("took %v refusing the bomb, limit %v", elapsed, gbdttest.BombMaxTime)
	}
	if code, body := f.do(t, "alice", "GET", base+"/models/pd/versions/1", nil, ""); code != http.StatusNotFound {
		t.Errorf("version 1 after the refusal: %d %s", code, body)
	}
}
