package e2e

import (
	"net/http/httptest"
	"testing"

	"github.com/xinyi-platform/xinyi/lab/labtest"
)

// newServer serves the environment's console on a loopback port and returns its base URL.
func newServer(t *testing.T, env *labtest.Env) string {
	t.Helper()
	srv := httptest.NewServer(env.Handler)
	t.Cleanup(srv.Close)
	return srv.URL
}
