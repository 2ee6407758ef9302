package httpapi

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
)

// FuzzParseUpload feeds arbitrary query strings, bodies and content types to the
// upload request parser: it returns an Upload or an error that maps to 400 or
// 413, never a 5xx or a panic, and never a model file over the limit.
func FuzzParseUpload(f *testing.F) {
	model, err := os.ReadFile("../../gbdt/testdata/xgboost/binary_depthwise.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add("feature_set=gmsc&feature_set_version=1&features=a,b", model[:2000], "")
	f.Add("feature_set_version=-1&sample_version=x", []byte("tree\n"), "application/octet-stream")
	f.Add("", []byte("--x\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.txt\"\r\n\r\ntree\r\n--x\r\nContent-Disposition: form-data; name=\"meta\"\r\n\r\n{\"feature_set\":\"gmsc\",\"parity\":{\"rows\":[[1,null]],\"expected\":[0.5]}}\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	f.Add("", []byte("--x\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\n\r\n--x--\r\n"), "multipart/form-data; boundary=x")
	s := &server{opts: Options{MaxMetaBytes: 4096}}
	const limit = 1024
	f.Fuzz(func(t *testing.T, query string, body []byte, ct string) {
		req := httptest.NewRequest("POST", "/v1/registry/models/pd/versions", bytes.NewReader(body))
		req.URL.RawQuery = query
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		up, err := s.parseUpload(httptest.NewRecorder(), req, limit)
		if err != nil {
			if c, _ := statusOf(err); c != http.StatusBadRequest && c != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d for %v", c, err)
			}
			return
		}
		if len(up.Data) > limit {
			t.Fatalf("accepted %d bytes over the %d limit", len(up.Data), limit)
		}
	})
}
