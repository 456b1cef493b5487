package modbus

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/greenlang/gl001/internal/tlsrefusal"
	"github.com/greenlang/gl001/scada"
)

// Environment variables read by [TLSFromEnv].
const (
	EnvCertPath = "SCADA_CERT_PATH" // PEM client certificate (chain)
	EnvKeyPath  = "SCADA_KEY_PATH"  // PEM private key of the client certificate
	EnvCAPath   = "SCADA_CA_PATH"   // PEM CA certificates that sign the devices' certificates
)

// TLSFromEnv returns the TLS configuration for Modbus/TCP Security from the
// files named by SCADA_CERT_PATH, SCADA_KEY_PATH and SCADA_CA_PATH, as
// [LoadTLS] does. It is never called implicitly: pass its result as
// Config.TLS. Every missing variable is reported.
func TLSFromEnv() (*tls.Config, error) {
	var errs []error
	get := func(name string) string {
		v := os.Getenv(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("modbus: %s is not set", name))
		}
		return v
	}
	cert, key, ca := get(EnvCertPath), get(EnvKeyPath), get(EnvCAPath)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return LoadTLS(cert, key, ca)
}

// LoadTLS returns a TLS configuration for Modbus/TCP Security: the client
// certificate and key (the protocol authenticates clients by certificate),
// the CA certificates that verify the device, and TLS 1.3 as the minimum
// version. Lower MinVersion on the result only for devices that cannot do
// TLS 1.3. Errors name the files, never their contents.
func LoadTLS(certFile, keyFile, caFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("modbus: client certificate %s with key %s: %w", certFile, keyFile, err)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("modbus: CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("modbus: CA file %s holds no PEM certificate", caFile)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		RootCAs:      pool,
		MinVersion:   tls.VersionTLS13,
	}, nil
}

// classify marks the connection errors that retrying cannot fix with
// [scada.ErrPermanent]: a certificate either side refuses, a TLS version or
// handshake the device does not accept, a device that does not speak TLS on
// a Modbus/TCP Security address. The Collector shows these as the cause and
// retries only slowly; they last until a certificate or the configuration
// changes.
func classify(err error) error {
	if err == nil || errors.Is(err, scada.ErrPermanent) || !tlsrefusal.Is(err) {
		return err
	}
	return fmt.Errorf("%w: %w", scada.ErrPermanent, err)
}
