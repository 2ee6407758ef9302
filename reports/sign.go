package reports

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"regexp"
)

// sigPrefix starts the signature line a signed report ends with.
const sigPrefix = "%XINYI-SIGNATURE "

// maxSigLine bounds the signature line: a longer tail is not a signature.
const maxSigLine = 512

// Key is the platform's report signing key.
type Key struct {
	ID      string
	private ed25519.PrivateKey
}

// PublicKey is a verification key under its id.
type PublicKey struct {
	ID  string
	Key ed25519.PublicKey
}

// KeyID is the id of a public key: "ed25519:" and the first 16 hex digits of the
// SHA-256 of the key, so that a file names the key that signed it.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:8])
}

// NewKey wraps an Ed25519 private key.
func NewKey(priv ed25519.PrivateKey) (*Key, error) {
	if len(priv) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("%w: an Ed25519 private key has %d bytes, not %d", ErrInvalid, ed25519.PrivateKeySize, len(priv))
	}
	return &Key{ID: KeyID(priv.Public().(ed25519.PublicKey)), private: priv}, nil
}

// GenerateKey makes a new signing key (for the demo and tests).
func GenerateKey() (*Key, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return NewKey(priv)
}

// Public returns the key's public half.
func (k *Key) Public() PublicKey {
	return PublicKey{ID: k.ID, Key: k.private.Public().(ed25519.PublicKey)}
}

// MarshalPEM encodes the private key as PKCS #8 PEM ("PRIVATE KEY").
func (k *Key) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalPEM encodes the public key as PKIX PEM ("PUBLIC KEY").
func (p PublicKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(p.Key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseKey parses a PKCS #8 PEM Ed25519 private key.
func ParseKey(data []byte) (*Key, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%w: not a PEM \"PRIVATE KEY\" block", ErrInvalid)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: private key: %v", ErrInvalid, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%w: the private key is %T, not Ed25519", ErrInvalid, k)
	}
	return NewKey(priv)
}

// ParsePublicKey parses a PKIX PEM Ed25519 public key, or takes the public half
// of a private key PEM.
func ParsePublicKey(data []byte) (PublicKey, error) {
	b, _ := pem.Decode(data)
	if b != nil && b.Type == "PRIVATE KEY" {
		k, err := ParseKey(data)
		if err != nil {
			return PublicKey{}, err
		}
		return k.Public(), nil
	}
	if b == nil || b.Type != "PUBLIC KEY" {
		return PublicKey{}, fmt.Errorf("%w: not a PEM \"PUBLIC KEY\" block", ErrInvalid)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%w: public key: %v", ErrInvalid, err)
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: the public key is %T, not Ed25519", ErrInvalid, k)
	}
	return PublicKey{ID: KeyID(pub), Key: pub}, nil
}

// LoadKey reads a private key file.
func LoadKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reports: signing key: %w", err)
	}
	k, err := ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// LoadPublicKey reads a public (or private) key file.
func LoadPublicKey(path string) (PublicKey, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PublicKey{}, fmt.Errorf("reports: public key: %w", err)
	}
	p, err := ParsePublicKey(data)
	if err != nil {
		return PublicKey{}, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// WriteKeyFiles writes k to path (mode 0600) and its public half to path+".pub",
// refusing to overwrite an existing key.
func WriteKeyFiles(k *Key, path string) error {
	priv, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	pub, err := k.Public().MarshalPEM()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("reports: write key: %w", err)
	}
	if _, err := f.Write(priv); err != nil {
		f.Close()
		return fmt.Errorf("reports: write key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("reports: write key: %w", err)
	}
	return os.WriteFile(path+".pub", pub, 0o644)
}

// SignedMessage is what a report's signature signs: a domain label, the key id,
// the report id and the SHA-256 of the document bytes.
func SignedMessage(keyID, reportID string, digest [32]byte) []byte {
	var b bytes.Buffer
	b.WriteString("xinyi-report-v1\n")
	b.WriteString(keyID + "\n")
	b.WriteString(reportID + "\n")
	b.Write(digest[:])
	return b.Bytes()
}

// Sign appends the signature line to doc, a rendered PDF ending in %%EOF and a
// newline, and returns the signed file and the hex SHA-256 of doc.
func (k *Key) Sign(doc []byte, reportID string) ([]byte, string, error) {
	if !idRE.MatchString(reportID) {
		return nil, "", fmt.Errorf("%w: report id %q", ErrInvalid, reportID)
	}
	if !bytes.HasSuffix(doc, []byte("%%EOF\n")) {
		return nil, "", fmt.Errorf("%w: the document does not end with %%%%EOF and a newline", ErrInvalid)
	}
	digest := sha256.Sum256(doc)
	sig := ed25519.Sign(k.private, SignedMessage(k.ID, reportID, digest))
	out := make([]byte, 0, len(doc)+200)
	out = append(out, doc...)
	out = fmt.Appendf(out, "%sv=1 key=%s report=%s sig=%s\n", sigPrefix, k.ID, reportID, base64.StdEncoding.EncodeToString(sig))
	return out, hex.EncodeToString(digest[:]), nil
}

// Signature is what a signed file's signature line says.
type Signature struct {
	KeyID    string
	ReportID string
	Sig      []byte
	Digest   [32]byte // of the document before the line
}

var (
	idRE      = regexp.MustCompile(`^XYR-[0-9]{8}-[A-Z2-7]{8,16}$`)
	keyIDRE   = regexp.MustCompile(`^ed25519:[0-9a-f]{16}$`)
	sigLineRE = regexp.MustCompile(`^%XINYI-SIGNATURE v=1 key=(\S+) report=(\S+) sig=([A-Za-z0-9+/=]+)\n$`)
)

// ParseSigned splits a signed file into its document and signature without
// checking the signature. It returns ErrUnsigned when the file does not end with
// a signature line and ErrInvalid when the line is malformed.
func ParseSigned(file []byte) ([]byte, Signature, error) {
	var s Signature
	if !bytes.HasSuffix(file, []byte("\n")) {
		return nil, s, fmt.Errorf("%w: the file does not end with a signature line", ErrUnsigned)
	}
	body := file[:len(file)-1]
	i := bytes.LastIndexByte(body, '\n')
	if i < 0 {
		return nil, s, fmt.Errorf("%w: the file does not end with a signature line", ErrUnsigned)
	}
	doc, line := file[:i+1], file[i+1:]
	if !bytes.HasPrefix(line, []byte(sigPrefix)) {
		return nil, s, fmt.Errorf("%w: the file does not end with a signature line", ErrUnsigned)
	}
	if len(line) > maxSigLine {
		return nil, s, fmt.Errorf("%w: the signature line is %d bytes, more than %d", ErrInvalid, len(line), maxSigLine)
	}
	m := sigLineRE.FindSubmatch(line)
	if m == nil {
		return nil, s, fmt.Errorf("%w: the signature line is malformed", ErrInvalid)
	}
	s.KeyID, s.ReportID = string(m[1]), string(m[2])
	if !keyIDRE.MatchString(s.KeyID) {
		return nil, s, fmt.Errorf("%w: key id %q is malformed", ErrInvalid, s.KeyID)
	}
	if !idRE.MatchString(s.ReportID) {
		return nil, s, fmt.Errorf("%w: report id %q is malformed", ErrInvalid, s.ReportID)
	}
	sig, err := base64.StdEncoding.Strict().DecodeString(string(m[3])) // strict: unused bits must be zero, so one file has one spelling
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, s, fmt.Errorf("%w: the signature is not %d bytes of base64", ErrInvalid, ed25519.SignatureSize)
	}
	s.Sig = sig
	s.Digest = sha256.Sum256(doc)
	return doc, s, nil
}

// VerifyFile checks a signed report file offline against the public keys: the
// signature line parses, names one of keys, and signs every byte before it. It
// returns the signature on success; the error wraps ErrUnsigned, ErrInvalid,
// ErrUnknownKey or ErrBadSignature otherwise.
func VerifyFile(file []byte, keys ...PublicKey) (Signature, error) {
	_, s, err := ParseSigned(file)
	if err != nil {
		return s, err
	}
	for _, k := range keys {
		if k.ID != s.KeyID {
			continue
		}
		if !ed25519.Verify(k.Key, SignedMessage(s.KeyID, s.ReportID, s.Digest), s.Sig) {
			return s, fmt.Errorf("%w: report %s under key %s", ErrBadSignature, s.ReportID, s.KeyID)
		}
		return s, nil
	}
	return s, fmt.Errorf("%w: the file is signed under %s", ErrUnknownKey, s.KeyID)
}

// errStatus is the Verification status of a verification error.
func errStatus(err error) string {
	switch {
	case errors.Is(err, ErrUnsigned):
		return "unsigned"
	case errors.Is(err, ErrUnknownKey):
		return "unknown_key"
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrInvalid):
		return "bad_signature"
	case errors.Is(err, ErrRevoked):
		return StatusRevoked
	case errors.Is(err, ErrNotIssued):
		return "not_issued"
	}
	return "error"
}
