package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts every signing secret (Standard Webhooks: "whsec_" and the
// base64 of the key).
const SecretPrefix = "whsec_"

// secretBytes is the length of a generated key: 32 bytes, the HMAC-SHA256 block
// half; the specification asks for 24 to 64.
const secretBytes = 32

// NewSecret returns a fresh signing secret.
func NewSecret() string {
	var b [secretBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return SecretPrefix + base64.StdEncoding.EncodeToString(b[:])
}

// ParseSecret returns the HMAC key of a secret.
func ParseSecret(s string) ([]byte, error) {
	raw, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return nil, fmt.Errorf("%w: a signing secret starts with %q", ErrInvalid, SecretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: signing secret is not base64 after %q", ErrInvalid, SecretPrefix)
	}
	if len(key) < 24 || len(key) > 64 {
		return nil, fmt.Errorf("%w: signing secret has %d key bytes, want 24 to 64", ErrInvalid, len(key))
	}
	return key, nil
}

// Signature is the value of the webhook-signature header for one message sent
// at ts: a space-separated "v1,<base64 HMAC-SHA256>" per key, so that a receiver
// holding either the old or the new secret verifies during a rotation.
func Signature(keys [][]byte, id string, ts time.Time, body []byte) string {
	content := signedContent(id, ts, body)
	parts := make([]string, len(keys))
	for i, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write(content)
		parts[i] = "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
	}
	return strings.Join(parts, " ")
}

// signedContent is "<id>.<unix seconds>.<body>".
func signedContent(id string, ts time.Time, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(body)+24)
	b = append(b, id...)
	b = append(b, '.')
	b = strconv.AppendInt(b, ts.Unix(), 10)
	b = append(b, '.')
	return append(b, body...)
}
