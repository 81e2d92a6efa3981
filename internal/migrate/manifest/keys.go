package manifest

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// Key files are one line of text each, so that they can be read, mailed
// and compared by people:
//
//	private (mode 0600):  kintsugi-ed25519-private:<base64 of the 32-byte seed>
//	public  (.pub):       kintsugi-ed25519-public:<base64 of the 32-byte key> [comment]
//
// Lines starting with # are comments.
const (
	privatePrefix = "kintsugi-ed25519-private:"
	publicPrefix  = "kintsugi-ed25519-public:"
)

// ErrKeyPermissions is returned for a private key file that others may read.
var ErrKeyPermissions = errors.New("private key file is readable by others")

// KeyID is the short fingerprint of a public key: the first 16 hex digits
// of its SHA-256. It is printed by kintsugi key generate, written into
// every manifest and checked by kintsugi manifest verify.
func KeyID(pub ed25519.PublicKey) string {
	h := sha256.Sum256(pub)
	return hex.EncodeToString(h[:8])
}

// GenerateKey writes a new private key to path (mode 0600, never over an
// existing file) and its public key to path+".pub".
func GenerateKey(path, comment string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	body := "# kintsugi manifest signing key (ed25519); keep it secret\n" + privatePrefix + base64.StdEncoding.EncodeToString(priv.Seed()) + "\n"
	if _, err := f.WriteString(body); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("private key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, fmt.Errorf("private key: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("private key: %w", err)
	}
	line := MarshalPublicKey(pub)
	if comment = strings.Join(strings.Fields(comment), " "); comment != "" {
		line += " " + comment
	}
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("public key: %w", err)
	}
	return pub, nil
}

// MarshalPublicKey returns the one-line text form of a public key.
func MarshalPublicKey(pub ed25519.PublicKey) string {
	return publicPrefix + base64.StdEncoding.EncodeToString(pub)
}

// LoadPrivateKey reads a private key file, refusing one that is readable
// by group or others.
func LoadPrivateKey(path string) (ed25519.PrivateKey, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(f, 4096))
	if err != nil {
		return nil, err
	}
	v, err := keyLine(b, privatePrefix)
	if err != nil {
		if _, perr := keyLine(b, publicPrefix); perr == nil {
			return nil, fmt.Errorf("%s: this is a public key; signing needs the private key file", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%s: %w (mode %04o)", path, ErrKeyPermissions, fi.Mode().Perm())
	}
	seed, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: not a kintsugi private key (bad key data)", path)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// LoadPublicKey reads a public key file (or the text of one).
func LoadPublicKey(path string) (ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && strings.HasPrefix(path, publicPrefix) {
		b = []byte(path)
	} else if err != nil {
		return nil, err
	}
	pub, err := ParsePublicKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// ParsePublicKey parses the text form of a public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	v, err := keyLine([]byte(s), publicPrefix)
	if err != nil {
		return nil, err
	}
	if i := strings.IndexByte(v, ' '); i >= 0 {
		v = v[:i]
	}
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("not a kintsugi public key (bad key data)")
	}
	return ed25519.PublicKey(raw), nil
}

// keyLine returns what follows prefix on the first non-comment line.
func keyLine(b []byte, prefix string) (string, error) {
	for _, l := range bytes.Split(b, []byte("\n")) {
		l = bytes.TrimSpace(l)
		if len(l) == 0 || l[0] == '#' {
			continue
		}
		if !bytes.HasPrefix(l, []byte(prefix)) {
			return "", fmt.Errorf("not a kintsugi key file (want a line starting with %q)", prefix)
		}
		return string(l[len(prefix):]), nil
	}
	return "", errors.New("empty key file")
}
