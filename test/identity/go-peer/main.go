// svidpeer: a SPIFFE peer built on go-spiffe (the SPIFFE project's Go library), used by
// test/identity/go-peer.test.ts to check Gatehouse's SVIDs against an independent
// implementation of the X509-SVID spec.
//
//	svidpeer verify CERT KEY BUNDLE TRUST_DOMAIN            parse + validate the SVID, verify it against the bundle, print its ID
//	svidpeer serve CERT KEY BUNDLE TRUST_DOMAIN CLIENT_ID   mTLS server on 127.0.0.1:0 (prints "port N"); answers "hello ID" to that client only
//	svidpeer dial ADDR CERT KEY BUNDLE TRUST_DOMAIN SERVER_ID   mTLS client; prints the server's answer
package main

import (
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"os"

	"github.com/spiffe/go-spiffe/v2/bundle/x509bundle"
	"github.com/spiffe/go-spiffe/v2/spiffeid"
	"github.com/spiffe/go-spiffe/v2/spiffetls/tlsconfig"
	"github.com/spiffe/go-spiffe/v2/svid/x509svid"
)

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
	os.Exit(1)
}

func load(cert, key, bundle, td string) (*x509svid.SVID, *x509bundle.Bundle) {
	svid, err := x509svid.Load(cert, key)
	if err != nil {
		fail("svid: %v", err)
	}
	trustDomain, err := spiffeid.TrustDomainFromString(td)
	if err != nil {
		fail("trust domain: %v", err)
	}
	b, err := x509bundle.Load(trustDomain, bundle)
	if err != nil {
		fail("bundle: %v", err)
	}
	return svid, b
}

func main() {
	if len(os.Args) < 2 {
		fail("usage: svidpeer verify|serve|dial ...")
	}
	switch os.Args[1] {
	case "verify":
		svid, b := load(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
		id, _, err := x509svid.Verify(svid.Certificates, b)
		if err != nil {
			fail("verify: %v", err)
		}
		fmt.Println(id.String())
	case "serve":
		svid, b := load(os.Args[2], os.Args[3], os.Args[4], os.Args[5])
		want, err := spiffeid.FromString(os.Args[6])
		if err != nil {
			fail("client id: %v", err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", tlsconfig.MTLSServerConfig(svid, b, tlsconfig.AuthorizeID(want)))
		if err != nil {
			fail("listen: %v", err)
		}
		fmt.Printf("port %d\n", ln.Addr().(*net.TCPAddr).Port)
		conn, err := ln.Accept()
		if err != nil {
			fail("accept: %v", err)
		}
		tc := conn.(*tls.Conn)
		if err := tc.Handshake(); err != nil {
			fmt.Printf("refused: %v\n", err)
			conn.Close()
			return
		}
		peer, err := x509svid.IDFromCert(tc.ConnectionState().PeerCertificates[0])
		if err != nil {
			fail("peer id: %v", err)
		}
		fmt.Fprintf(conn, "hello %s", peer.String())
		fmt.Printf("served %s\n", peer.String())
		conn.Close()
	case "dial":
		svid, b := load(os.Args[3], os.Args[4], os.Args[5], os.Args[6])
		want, err := spiffeid.FromString(os.Args[7])
		if err != nil {
			fail("server id: %v", err)
		}
		conn, err := tls.Dial("tcp", os.Args[2], tlsconfig.MTLSClientConfig(svid, b, tlsconfig.AuthorizeID(want)))
		if err != nil {
			fail("dial: %v", err)
		}
		defer conn.Close()
		reply, err := io.ReadAll(conn)
		if err != nil {
			fail("read: %v", err)
		}
		fmt.Print(string(reply))
	default:
		fail("unknown mode %s", os.Args[1])
	}
}
