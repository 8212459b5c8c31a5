package lab

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// KubeadmServiceIP stands in for the first address of a cluster's service
// subnet (10.96.0.1 with kubeadm's default subnet), which kubeadm names in
// the API server's certificate: a documentation address, as the lab uses
// no other.
const KubeadmServiceIP = "198.51.100.1"

// KubeadmDNSNames returns the DNS names kubeadm puts in every API server
// certificate after the node's name.
func KubeadmDNSNames() []string {
	return []string{"kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"}
}

// A KubeadmPKI is a cluster CA made as kubeadm init makes it: self-signed,
// named "kubernetes", with an RSA 2048 key. It issues the API servers'
// serving certificates as kubeadm init and join do, for the names of
// KubeadmDNSNames and the node, and for KubeadmServiceIP, the node's
// advertise address and the control-plane endpoint: never for 127.0.0.1,
// so that a check of https://127.0.0.1:6443 verifies only with
// server_name = "kubernetes".
//
// A CA rotation is a new KubeadmPKI: its certificates do not verify with
// the old CA, nor the old ones with it.
type KubeadmPKI struct {
	// CA is the CA certificate.
	CA *x509.Certificate

	key      *rsa.PrivateKey
	endpoint netip.Addr
}

// A ServingCert is an API server's serving certificate and key.
type ServingCert struct {
	// TLS is the certificate chain and key, for a server.
	TLS tls.Certificate
	// CertPEM and KeyPEM are what kubeadm writes to apiserver.crt and
	// apiserver.key.
	CertPEM, KeyPEM []byte
}

// NewKubeadmPKI makes a new cluster CA whose serving certificates name
// endpoint, the control-plane endpoint (the VIP). It fails t on error.
func NewKubeadmPKI(t testing.TB, endpoint netip.Addr) *KubeadmPKI {
	t.Helper()
	key := rsaKey(t)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "kubernetes"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatalf("lab: CA certificate: %v", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("lab: CA certificate: %v", err)
	}
	return &KubeadmPKI{CA: ca, key: key, endpoint: endpoint}
}

// Endpoint returns the control-plane endpoint the serving certificates
// name.
func (p *KubeadmPKI) Endpoint() netip.Addr { return p.endpoint }

// CAPEM returns the CA certificate as ca.crt holds it.
func (p *KubeadmPKI) CAPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.CA.Raw})
}

// ServingCert issues the serving certificate of the API server of node,
// whose advertise address is advertise: CN kube-apiserver, the DNS names
// of KubeadmDNSNames and node, the IP addresses KubeadmServiceIP,
// advertise and the endpoint. It fails t on error.
func (p *KubeadmPKI) ServingCert(t testing.TB, node string, advertise netip.Addr) *ServingCert {
	t.Helper()
	key := rsaKey(t)
	now := time.Now()
	ips := []net.IP{net.ParseIP(KubeadmServiceIP), advertise.AsSlice()}
	if p.endpoint.IsValid() && p.endpoint != advertise {
		ips = append(ips, p.endpoint.AsSlice())
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     append([]string{node}, KubeadmDNSNames()...),
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.CA, &key.PublicKey, p.key)
	if err != nil {
		t.Fatalf("lab: serving certificate of %s: %v", node, err)
	}
	return &ServingCert{
		TLS:     tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
	}
}

// WriteCA writes the CA certificate to path, as ca.crt.
func (p *KubeadmPKI) WriteCA(t testing.TB, path string) {
	t.Helper()
	writeFile(t, path, p.CAPEM(), 0o644)
}

// WriteFiles writes ca.crt, and apiserver.crt and apiserver.key of cert
// unless it is nil, into dir, creating it, as kubeadm writes them into
// /etc/kubernetes/pki. Each file is replaced at once (written aside and
// renamed), so a check reading it sees the old file or the new one.
func (p *KubeadmPKI) WriteFiles(t testing.TB, dir string, cert *ServingCert) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("lab: %v", err)
	}
	p.WriteCA(t, filepath.Join(dir, "ca.crt"))
	if cert != nil {
		writeFile(t, filepath.Join(dir, "apiserver.crt"), cert.CertPEM, 0o644)
		writeFile(t, filepath.Join(dir, "apiserver.key"), cert.KeyPEM, 0o600)
	}
}

// writeFile replaces path with a file holding b.
func writeFile(t testing.TB, path string, b []byte, perm os.FileMode) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		t.Fatalf("lab: %v", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), perm)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		t.Fatalf("lab: write %s: %v", path, err)
	}
}

// rsaKey returns a key as kubeadm makes them by default.
func rsaKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("lab: key: %v", err)
	}
	return key
}

// serial returns a random certificate serial number, as kubeadm's.
func serial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		t.Fatalf("lab: serial: %v", err)
	}
	return n
}
