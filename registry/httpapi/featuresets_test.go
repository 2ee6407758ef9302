package httpapi_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/features"
)

// TestFeatureSetEndpoints: a bank publishes a set of its own features over the
// API, reads it back, lists it, registers a model against it by upload; another
// bank neither lists nor reads it; bad definitions are 400 naming the problem.
func TestFeatureSetEndpoints(t *testing.T) {
	f := newFixture(t)
	const base = "/v1/registry/feature-sets"
	def := map[string]any{"name": "bank-a-sme", "description": "own features"}
	var feats []map[string]any
	for _, n := range gmscNames {
		feats = append(feats, map[string]any{"name": n, "type": "numeric", "min": 0, "zh": n, "en": n})
	}
	def["features"] = feats
	status, body := f.json(t, "alice", "POST", base, def)
	if status != 201 {
		t.Fatalf("publish: %d %s", status, body)
	}
	var got features.SetDefinition
	if err := json.Unmarshal(body, &got); err != nil || got.Version != 1 || len(got.Features) != len(gmscNames) {
		t.Fatalf("published %+v, %v", got, err)
	}
	for _, tt := range []struct {
		user, path string
		want       int
	}{
		{"alice", base + "/bank-a-sme", 200},
		{"alice", base + "/bank-a-sme/v1", 200},
		{"alice", base + "/bank-a-sme/v2", 404},
		{"alice", base + "/bank-a-sme/v0", 400},
		{"bob", base + "/bank-a-sme/v1", 404},
		{"alice", base + "/gmsc/v1", 200},
		{"", base + "/gmsc/v1", 401},
	} {
		if status, body := f.do(t, tt.user, "GET", tt.path, nil, ""); status != tt.want {
			t.Errorf("%s GET %s: %d %s, want %d", tt.user, tt.path, status, body, tt.want)
		}
	}
	for user, want := range map[string]bool{"alice": true, "bob": false} {
		status, body := f.do(t, user, "GET", base, nil, "")
		if status != 200 || bytes.Contains(body, []byte(`"bank-a-sme"`)) != want || !bytes.Contains(body, []byte(`"gmsc"`)) {
			t.Errorf("%s lists: %d %s", user, status, body)
		}
	}
	status, body = f.do(t, "alice", "POST", "/v1/registry/models/pd-own/versions?task=pd&feature_set=bank-a-sme/v1",
		bytes.NewReader(readFile(t, "binary_depthwise.json")), "")
	if status != 201 || !bytes.Contains(body, []byte(`"feature_set":"bank-a-sme"`)) {
		t.Fatalf("register against the bank's set: %d %s", status, body)
	}
	bad := map[string]any{"name": "x", "features": []map[string]any{{"name": "k", "type": "categorical"}}}
	if status, body := f.json(t, "alice", "POST", base, bad); status != 400 || !strings.Contains(string(body), `\"k\"`) {
		t.Fatalf("bad definition: %d %s", status, body)
	}
	if status, body := f.json(t, "carol", "POST", base, def); status != 403 {
		t.Fatalf("approver publishes: %d %s", status, body)
	}
}
