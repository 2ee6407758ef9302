// Package redistest runs a real Redis Cluster for tests: n master nodes of the
// installed redis-server (Debian's package runs cluster nodes), each on free
// loopback ports with its own temporary folder and no persistence, joined by
// redis-cli --cluster create with every hash slot assigned, and killed when the
// test ends.
//
//	c := redistest.StartCluster(t, redistest.Options{}) // or Shared(t): one per package
//	client := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: c.Addrs})
//
// Without redis-server (or redis-cli) the test is skipped, except under CI (env
// CI set) where it fails: a CI run must not pass by skipping the cluster.
package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/xinyi-platform/xinyi/internal/freeport"
	"github.com/xinyi-platform/xinyi/internal/testproc"
)

// NotInstalled is the message given when redis-server or redis-cli is missing.
const NotInstalled = "redis-server and redis-cli not installed (Debian: apt-get install redis-server)"

const (
	startTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
)

// Options configure a cluster.
type Options struct {
	// Masters is the number of master nodes. Default 3, the fewest Redis
	// Cluster accepts.
	Masters int
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Masters <= 0 {
		o.Masters = 3
	}
}

// Cluster is a running Redis Cluster.
type Cluster struct {
	// Addrs are the host:port of every master node.
	Addrs []string

	nodes    []*node
	dir      string
	stopOnce sync.Once
}

type node struct {
	addr   string
	cmd    *exec.Cmd
	log    *testproc.Output
	exited chan struct{}
}

// StartCluster starts a cluster for tb alone; it is stopped when tb ends, and
// the nodes' logs are shown if tb failed.
func StartCluster(tb testing.TB, opts Options) *Cluster {
	tb.Helper()
	server, cli := requireBinaries(tb)
	c, err := start(server, cli, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if tb.Failed() {
			c.logs(tb)
		}
		c.Stop()
	})
	return c
}

var shared struct {
	sync.Mutex
	c   *Cluster
	err error
}

// Shared returns the package's shared 3-master cluster, starting it on first
// use. Call StopShared from TestMain after m.Run:
//
//	func TestMain(m *testing.M) { code := m.Run(); redistest.StopShared(); os.Exit(code) }
//
// Tests sharing it keep apart by key prefix.
func Shared(tb testing.TB) *Cluster {
	tb.Helper()
	server, cli := requireBinaries(tb)
	shared.Lock()
	defer shared.Unlock()
	if shared.c == nil && shared.err == nil {
		shared.c, shared.err = start(server, cli, Options{})
	}
	if shared.err != nil {
		tb.Fatalf("shared Redis Cluster: %v", shared.err)
	}
	c := shared.c
	tb.Cleanup(func() {
		if tb.Failed() {
			c.logs(tb)
		}
	})
	return c
}

// StopShared stops the shared cluster, if one was started.
func StopShared() {
	shared.Lock()
	defer shared.Unlock()
	if shared.c != nil {
		shared.c.Stop()
		shared.c = nil
	}
}

// requireBinaries returns the paths of redis-server and redis-cli, or skips
// (under CI: fails) tb.
func requireBinaries(tb testing.TB) (server, cli string) {
	tb.Helper()
	server, err1 := exec.LookPath("redis-server")
	cli, err2 := exec.LookPath("redis-cli")
	if err := errors.Join(err1, err2); err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s: %v", NotInstalled, err)
		}
		tb.Skipf("%s: %v", NotInstalled, err)
	}
	return server, cli
}

func (c *Cluster) logs(tb testing.TB) {
	for _, n := range c.nodes {
		tb.Logf("redis node %s log:\n%s", n.addr, testproc.Tail(n.log.String(), 3000))
	}
}

func start(server, cli string, opts Options) (*Cluster, error) {
	opts.EnsureDefaults()
	if opts.Masters < 3 {
		return nil, fmt.Errorf("redistest: %d masters; Redis Cluster needs at least 3", opts.Masters)
	}
	dir, err := os.MkdirTemp("", "xinyi-redis-cluster-")
	if err != nil {
		return nil, err
	}
	c := &Cluster{dir: dir}
	for i := range opts.Masters {
		n, err := startNode(server, filepath.Join(dir, fmt.Sprintf("n%d", i)))
		if err != nil {
			c.Stop()
			return nil, err
		}
		c.nodes = append(c.nodes, n)
		c.Addrs = append(c.Addrs, n.addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	args := append([]string{"--cluster", "create"}, c.Addrs...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	out, err := exec.CommandContext(ctx, cli, args...).CombinedOutput()
	if err == nil {
		err = c.waitOK(ctx)
	}
	if err != nil {
		c.Stop()
		return nil, fmt.Errorf("redis-cli --cluster create %s: %w\n%s", strings.Join(c.Addrs, " "), err, out)
	}
	return c, nil
}

// startNode starts one cluster-enabled node in dir, trying other ports if the
// ones it picked are taken by the time it binds them.
func startNode(bin, dir string) (*node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		n, err := startNodeOnce(bin, dir)
		if err == nil {
			return n, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func startNodeOnce(bin, dir string) (*node, error) {
	addr, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	bus, err := freeport.Addr()
	if err != nil {
		return nil, err
	}
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	busPort := bus[strings.LastIndexByte(bus, ':')+1:]
	// A node's cluster state lives in its config file; a fresh one per attempt.
	os.Remove(filepath.Join(dir, "nodes.conf"))
	cmd := exec.Command(bin,
		"--bind", "127.0.0.1", "--port", port,
		"--cluster-enabled", "yes", "--cluster-port", busPort,
		"--cluster-config-file", "nodes.conf", "--dir", dir,
		"--save", "", "--appendonly", "no", "--daemonize", "no")
	n := &node{addr: addr, cmd: cmd, log: &testproc.Output{}, exited: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = n.log, n.log
	cmd.SysProcAttr = testproc.Attr() // dies with the test process where the OS allows
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	go func() { cmd.Wait(); close(n.exited) }()
	client := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer client.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-n.exited:
			return nil, fmt.Errorf("redis-server on %s exited during startup (%v):\n%s", addr, cmd.ProcessState, testproc.Tail(n.log.String(), 2000))
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		// The node's own id tells it from another process on the port.
		id, err := client.ClusterMyID(ctx).Result()
		cancel()
		if err == nil && id != "" && strings.Contains(n.log.String(), "Ready to accept connections") {
			return n, nil
		}
		if time.Now().After(deadline) {
			n.kill()
			return nil, fmt.Errorf("redis-server on %s not answering after %s:\n%s", addr, startTimeout, testproc.Tail(n.log.String(), 2000))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitOK waits until every node reports the cluster ok with all slots assigned.
func (c *Cluster) waitOK(ctx context.Context) error {
	for _, addr := range c.Addrs {
		client := goredis.NewClient(&goredis.Options{Addr: addr})
		var info string
		var err error
		for {
			info, err = client.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_slots_ok:16384") {
				break
			}
			select {
			case <-ctx.Done():
				client.Close()
				return fmt.Errorf("node %s: cluster not ok (%v):\n%s", addr, err, info)
			case <-time.After(20 * time.Millisecond):
			}
		}
		client.Close()
	}
	return nil
}

// StopNode kills master i (0-based, as in Addrs) at once, as a crashed node; the
// others keep running, and with no replica to take over, the slots it held stay
// down.
func (c *Cluster) StopNode(i int) error {
	if i < 0 || i >= len(c.nodes) {
		return fmt.Errorf("redistest: no node %d: the cluster has %d", i, len(c.nodes))
	}
	c.nodes[i].kill()
	return nil
}

// Stop terminates every node (SIGTERM, then SIGKILL after 5 s) and removes
// their folders. Stopping twice is harmless.
func (c *Cluster) Stop() {
	c.stopOnce.Do(c.stop)
}

func (c *Cluster) stop() {
	defer os.RemoveAll(c.dir)
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.stop() }()
	}
	wg.Wait()
}

func (n *node) stop() {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(stopTimeout):
		n.kill()
	}
}

func (n *node) kill() {
	select {
	case <-n.exited:
		return
	default:
	}
	n.cmd.Process.Kill()
	<-n.exited
}
