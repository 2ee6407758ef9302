package reports_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/xinyi-platform/xinyi/reports"
)

const doc = "%PDF-1.3\n1 0 obj\n<<>>\nendobj\n%%EOF\n"

// TestSignatureLine checks the signature line against a second implementation:
// the message built by hand and verified with crypto/ed25519 directly.
func TestSignatureLine(t *testing.T) {
	k, err := reports.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	id := "XYR-20261206-ABCDEFGH"
	file, digest, err := k.Sign([]byte(doc), id)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(doc))
	if got, want := digest, fmt.Sprintf("%x", sum); got != want {
		t.Errorf("digest %s, want %s", got, want)
	}
	line := string(file[len(doc):])
	var keyID, rid, sig64 string
	if _, err := fmt.Sscanf(line, "%%XINYI-SIGNATURE v=1 key=%s report=%s sig=%s\n", &keyID, &rid, &sig64); err != nil {
		t.Fatalf("line %q: %v", line, err)
	}
	sig, _ := base64.StdEncoding.DecodeString(sig64)
	msg := append([]byte("xinyi-report-v1\n"+keyID+"\n"+rid+"\n"), sum[:]...)
	if !ed25519.Verify(k.Public().Key, msg, sig) || keyID != k.ID || rid != id {
		t.Errorf("the line %q does not verify by hand", line)
	}

	tests := []struct {
		name string
		file []byte
		want error
	}{
		{"good", file, nil},
		{"no line", []byte(doc), reports.ErrUnsigned},
		{"empty", nil, reports.ErrUnsigned},
		{"line cut", file[:len(file)-5], reports.ErrUnsigned},
		{"another report id", bytes.Replace(file, []byte(id), []byte("XYR-20261206-ABCDEFGX"), 1), reports.ErrBadSignature},
		{"bytes appended", append(bytes.Clone(file), "junk\n"...), reports.ErrUnsigned},
		{"bad base64", bytes.Replace(file, []byte("sig="), []byte("sig=!"), 1), reports.ErrInvalid},
	}
	for i := range len(file) - 1 { // every byte but the final newline, flipped
		if i%7 != 0 && i < len(doc) {
			continue // a sample of the document; every byte of the line
		}
		bad := bytes.Clone(file)
		bad[i] ^= 0x04
		tests = append(tests, struct {
			name string
			file []byte
			want error
		}{fmt.Sprintf("byte %d flipped", i), bad, errAny})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reports.VerifyFile(tt.file, k.Public())
			switch {
			case tt.want == nil && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want == errAny && err == nil:
				t.Error("verified")
			case tt.want != nil && tt.want != errAny && !errors.Is(err, tt.want):
				t.Errorf("got %v, want %v", err, tt.want)
			}
		})
	}
}

var errAny = errors.New("any error")

func TestKeyFiles(t *testing.T) {
	k, _ := reports.GenerateKey()
	path := filepath.Join(t.TempDir(), "report.key")
	if err := reports.WriteKeyFiles(k, path); err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteKeyFiles(k, path); err == nil {
		t.Error("an existing key was overwritten")
	}
	k2, err := reports.LoadKey(path)
	if err != nil || k2.ID != k.ID {
		t.Fatalf("loaded %v, %v; want key %s", k2, err, k.ID)
	}
	for _, p := range []string{path, path + ".pub"} {
		pub, err := reports.LoadPublicKey(p)
		if err != nil || pub.ID != k.ID || !pub.Key.Equal(k.Public().Key) {
			t.Errorf("public key from %s: %v, %v", p, pub.ID, err)
		}
	}
	if _, err := reports.LoadKey(path + ".pub"); !errors.Is(err, reports.ErrInvalid) {
		t.Errorf("a public key loaded as the signing key: %v", err)
	}
}

// FuzzVerifyFile: an uploaded file never crashes the verifier, and anything it
// accepts was signed by the key.
func FuzzVerifyFile(f *testing.F) {
	k, _ := reports.GenerateKey()
	good, _, _ := k.Sign([]byte(doc), "XYR-20261206-ABCDEFGH")
	f.Add(good)
	f.Add([]byte(doc))
	f.Add([]byte("%XINYI-SIGNATURE v=1 key=ed25519:0011223344556677 report=XYR-20261206-ABCDEFGH sig=AAAA\n"))
	f.Add([]byte("\n%XINYI-SIGNATURE \n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := reports.VerifyFile(data, k.Public())
		if err != nil {
			return
		}
		if !bytes.Equal(data, good) && s.ReportID == "XYR-20261206-ABCDEFGH" && bytes.HasPrefix(data, []byte(doc)) && len(data) != len(good) {
			t.Errorf("accepted a changed file %q", data)
		}
		body, _, perr := reports.ParseSigned(data)
		if perr != nil || sha256.Sum256(body) != s.Digest {
			t.Errorf("accepted a file whose digest does not match: %v", perr)
		}
	})
}
