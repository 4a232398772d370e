package graph_test

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/tapportal/portal/internal/graph"
	"github.com/tapportal/portal/internal/graph/graphemu"
)

func TestLoadCertificate(t *testing.T) {
	certPEM, keyPEM, cert, err := graphemu.GenerateAppCertificate("portal")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	modern, err := pkcs12.Modern.Encode(key, cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := pkcs12.LegacyRC2.WithRand(rand.Reader).Encode(key, cert, nil, "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, password string
		ok                   bool
	}{
		{"PEM cert then key", write("a.pem", append(append([]byte{}, certPEM...), keyPEM...)), "", true},
		{"PEM key then cert", write("b.pem", append(append([]byte{}, keyPEM...), certPEM...)), "", true},
		{"PFX with SHA-256 MAC", write("modern.pfx", modern), "s3cret", true},
		{"legacy PFX", write("legacy.pfx", legacy), "s3cret", true},
		{"PFX wrong password", filepath.Join(dir, "modern.pfx"), "wrong", false},
		{"PEM without key", write("c.pem", certPEM), "", false},
		{"garbage", write("junk", []byte("not a certificate")), "", false},
		{"missing file", filepath.Join(dir, "absent.pem"), "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, key, err := graph.LoadCertificate(tt.path, tt.password)
			if tt.ok != (err == nil) {
				t.Fatalf("LoadCertificate(%s) error = %v, want ok %v", tt.name, err, tt.ok)
			}
			if tt.ok && (len(certs) == 0 || !certs[0].Equal(cert) || key == nil) {
				t.Fatalf("LoadCertificate(%s) = %d certs, key %v; want the generated certificate and a key", tt.name, len(certs), key != nil)
			}
		})
	}
}
