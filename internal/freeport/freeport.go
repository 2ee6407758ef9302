// Package freeport picks loopback ports for the servers tests start (MinIO,
// Redis Cluster nodes). A port is probed free and then handed to a child
// process, which binds it a moment later; in between another process can take
// it. Ports the kernel hands out itself (listening on port 0) come from the
// ephemeral range, which is also where every outgoing connection takes its
// local port, so on a machine busy with connections (a load generator, say)
// such a port is often gone by the time the child binds it. Addr picks from
// below the ephemeral range instead, where only explicit listeners go.
package freeport

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// low is the first port Addr considers: above the well-known and the common
// registered ports of local services (PostgreSQL 5432, Redis 6379, 8080 ...).
const low = 20000

// Addr returns a loopback host:port nobody listens on right now, outside the
// kernel's ephemeral port range where it can (else any free port).
func Addr() (string, error) {
	hi := ephemeralLow()
	if hi-low >= 1000 {
		for range 200 {
			addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(low+rand.IntN(hi-low)))
			l, err := net.Listen("tcp", addr)
			if err != nil {
				continue
			}
			l.Close()
			return addr, nil
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("freeport: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ephemeralLow returns the first port of the ephemeral range: Linux's setting,
// else 32768 (Linux's default; the IANA range starts higher, at 49152).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if n, err := strconv.Atoi(f[0]); err == nil {
				return n
			}
		}
	}
	return 32768
}
