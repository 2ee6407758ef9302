// Package redis is the Redis online store of the feature store, for several serving
// replicas sharing one store. It passes the same contract suite (features/onlinetest)
// as the embedded features.MemoryStore.
//
// Layout under the key prefix P:
//
//	P gen            counter of loaded generations
//	P cur            the current generation number
//	P g<N>:_meta     JSON header of generation N: set, as-of date, indicator names
//	P g<N>:<code>    the vector of one company: little-endian float64s (NaN = missing)
//
// A load writes a new generation with pipelined SETs, then moves "cur" to it (the atomic
// switch) and removes the generation before the previous one, so a replica that still
// reads the previous generation keeps working until it refreshes. Each vector is read
// with one GET from one generation, so it is never a mix of two snapshots.
//
// Redis Cluster (Options.ClusterAddrs, or a *ClusterClient in Options.Client) runs the
// same code: no command names two keys, so the layout needs no hash tag and a
// generation's vectors spread over every slot and master (a prefix holding a hash tag,
// "{…}", would put them all in one slot); pipelines are split per node by the client;
// and the keys of an old generation are found by a SCAN of every master node and
// removed one UNLINK per key, as keys of different slots may not share a command.
package redis

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/attribute"

	"github.com/xinyi-platform/xinyi/features"
)

// ErrUnavailable reports that Redis could not be reached or answered with an error.
var ErrUnavailable = errors.New("features/redis: redis unavailable")

// Options configure the store.
type Options struct {
	// Addr is the Redis address. Default "127.0.0.1:6379". Ignored when Client or
	// ClusterAddrs is set.
	Addr string
	// ClusterAddrs are seed addresses of a Redis Cluster (any of its nodes; the client
	// learns the rest). When set the store opens a cluster client. Ignored when Client
	// is set.
	ClusterAddrs []string
	// Client is an existing client to use (for Cluster or Sentinel); the store does not
	// close it.
	Client goredis.UniversalClient
	// Prefix namespaces every key. Default "xinyi:features:".
	Prefix string
	// Online are the staleness options shared with the embedded store.
	Online features.OnlineOptions
	// Refresh is how long a replica trusts its cached current generation before
	// checking for a newer one. Default 1s.
	Refresh time.Duration
	// BatchSize is the number of SETs per pipeline during a load. Default 2000.
	BatchSize int
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:6379"
	}
	if o.Prefix == "" {
		o.Prefix = "xinyi:features:"
	}
	o.Online.EnsureDefaults()
	if o.Refresh <= 0 {
		o.Refresh = time.Second
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 2000
	}
}

// Store is the Redis online store. It is safe for concurrent use.
type Store struct {
	opts   Options
	client goredis.UniversalClient
	owned  bool

	cur   atomic.Pointer[generation]
	mu    sync.Mutex // serializes refreshes and loads
	metas sync.Map   // gen → *generation
}

type generation struct {
	Gen     int64     `json:"gen"`
	Set     string    `json:"set"`
	AsOf    time.Time `json:"asof"`
	Names   []string  `json:"names"`
	checked time.Time
	sources *features.SourceColumns // when the online options judge sources
}

// Open connects to Redis and checks it answers.
func Open(ctx context.Context, opts Options) (*Store, error) {
	opts.EnsureDefaults()
	s := &Store{opts: opts, client: opts.Client}
	where := opts.Addr
	switch {
	case s.client != nil:
		where = "the given client"
	case len(opts.ClusterAddrs) > 0:
		s.client = goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: opts.ClusterAddrs})
		s.owned = true
		where = "cluster " + strings.Join(opts.ClusterAddrs, ",")
	default:
		s.client = goredis.NewClient(&goredis.Options{Addr: opts.Addr})
		s.owned = true
	}
	// A cluster answers PING from any node; ask every master so that a cluster
	// missing one fails here rather than on the first key of its slots.
	err := s.client.Ping(ctx).Err()
	if c, ok := s.client.(*goredis.ClusterClient); ok && err == nil {
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *goredis.Client) error {
			if err := n.Ping(ctx).Err(); err != nil {
				return fmt.Errorf("master %s: %w", n.Options().Addr, err)
			}
			return nil
		})
	}
	if err != nil {
		if s.owned {
			s.client.Close()
		}
		return nil, fmt.Errorf("%w: ping %s: %v", ErrUnavailable, where, err)
	}
	return s, nil
}

// Close closes the client if the store opened it.
func (s *Store) Close() error {
	if s.owned {
		return s.client.Close()
	}
	return nil
}

func (s *Store) key(gen int64, code string) string {
	return s.opts.Prefix + "g" + strconv.FormatInt(gen, 10) + ":" + code
}

// Load writes the snapshot as a new generation and switches to it.
func (s *Store) Load(ctx context.Context, snap *features.Snapshot) error {
	if err := snap.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gen, err := s.client.Incr(ctx, s.opts.Prefix+"gen").Result()
	if err != nil {
		return fmt.Errorf("%w: new generation: %v", ErrUnavailable, err)
	}
	g := &generation{Gen: gen, Set: snap.Set, AsOf: snap.AsOf.UTC(), Names: append([]string(nil), snap.Names...)}
	meta, err := json.Marshal(g)
	if err != nil {
		return fmt.Errorf("features/redis: encode header: %w", err)
	}
	seen := make(map[string]struct{}, len(snap.Codes))
	for _, c := range snap.Codes {
		if _, dup := seen[c]; dup {
			return fmt.Errorf("%w: %s: company %s appears twice", features.ErrInvalidSnapshot, snap.Set, c)
		}
		seen[c] = struct{}{}
	}
	w := len(snap.Names)
	buf := make([]byte, 8*w*min(s.opts.BatchSize, max(len(snap.Codes), 1)))
	for lo := 0; lo < len(snap.Codes); lo += s.opts.BatchSize {
		hi := min(lo+s.opts.BatchSize, len(snap.Codes))
		p := s.client.Pipeline()
		for i := lo; i < hi; i++ {
			b := buf[(i-lo)*8*w : (i-lo+1)*8*w]
			for j, v := range snap.Values[i*w : (i+1)*w] {
				binary.LittleEndian.PutUint64(b[8*j:], math.Float64bits(v))
			}
			p.Set(ctx, s.key(gen, snap.Codes[i]), b, 0)
		}
		if _, err := p.Exec(ctx); err != nil {
			s.dropGeneration(context.WithoutCancel(ctx), gen)
			return fmt.Errorf("%w: load %s generation %d: %v", ErrUnavailable, snap.Set, gen, err)
		}
	}
	if err := s.client.Set(ctx, s.key(gen, "_meta"), meta, 0).Err(); err != nil {
		s.dropGeneration(context.WithoutCancel(ctx), gen)
		return fmt.Errorf("%w: write header: %v", ErrUnavailable, err)
	}
	prev, err := s.client.GetSet(ctx, s.opts.Prefix+"cur", gen).Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return fmt.Errorf("%w: switch to generation %d: %v", ErrUnavailable, gen, err)
	}
	g.checked = time.Now()
	g.sources = s.opts.Online.Sources(g.Names)
	s.metas.Store(gen, g)
	s.cur.Store(g)
	// Keep the previous generation for replicas that have not refreshed yet; drop the
	// ones before it.
	if prev > 0 {
		for old := prev - 1; old > 0; old-- {
			n := s.dropGeneration(ctx, old)
			if n == 0 {
				break
			}
		}
	}
	return nil
}

// dropGeneration deletes the keys of one generation and returns how many it found.
func (s *Store) dropGeneration(ctx context.Context, gen int64) int {
	s.metas.Delete(gen)
	var n atomic.Int64
	s.scan(ctx, s.key(gen, "*"), func(c goredis.Cmdable, keys []string) error {
		// One UNLINK per key: in a cluster, keys of different slots may not share
		// a command even on one node.
		_, err := c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			for _, k := range keys {
				p.Unlink(ctx, k)
			}
			return nil
		})
		n.Add(int64(len(keys)))
		return err
	})
	return int(n.Load())
}

// scan calls fn with the keys matching pattern in batches, with the client of the
// node that holds them: on a cluster, every master node is scanned (a SCAN through the
// cluster client would reach one node only), concurrently.
func (s *Store) scan(ctx context.Context, pattern string, fn func(c goredis.Cmdable, keys []string) error) error {
	if c, ok := s.client.(*goredis.ClusterClient); ok {
		return c.ForEachMaster(ctx, func(ctx context.Context, node *goredis.Client) error {
			return scanNode(ctx, node, pattern, fn)
		})
	}
	return scanNode(ctx, s.client, pattern, fn)
}

func scanNode(ctx context.Context, c goredis.Cmdable, pattern string, fn func(c goredis.Cmdable, keys []string) error) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			return err
		}
		if len(keys) > 0 {
			if err := fn(c, keys); err != nil {
				return err
			}
		}
		cursor = next
		if cursor == 0 {
			return nil
		}
	}
}

// current returns the generation to read, refreshing it when older than Refresh.
func (s *Store) current(ctx context.Context, force bool) (*generation, error) {
	g := s.cur.Load()
	if g != nil && !force && time.Since(g.checked) < s.opts.Refresh {
		return g, nil
	}
	gen, err := s.client.Get(ctx, s.opts.Prefix+"cur").Int64()
	if errors.Is(err, goredis.Nil) {
		return nil, features.ErrNoSnapshot
	}
	if err != nil {
		return s.keep(g, force, fmt.Errorf("%w: read current generation: %v", ErrUnavailable, err))
	}
	if v, ok := s.metas.Load(gen); ok {
		ng := *v.(*generation)
		ng.checked = time.Now()
		s.cur.Store(&ng)
		return &ng, nil
	}
	b, err := s.client.Get(ctx, s.key(gen, "_meta")).Bytes()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return s.keep(g, force, fmt.Errorf("%w: read header of generation %d: %v", ErrUnavailable, gen, err))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read header of generation %d: %v", ErrUnavailable, gen, err)
	}
	ng := new(generation)
	if err := json.Unmarshal(b, ng); err != nil {
		return nil, fmt.Errorf("features/redis: header of generation %d: %w", gen, err)
	}
	ng.checked = time.Now()
	ng.sources = s.opts.Online.Sources(ng.Names)
	s.metas.Store(gen, ng)
	s.cur.Store(ng)
	return ng, nil
}

// keep answers a refresh that could not reach the node holding the current pointer
// or the new header (in a cluster, one master among several): the generation known
// so far stays in use, as a load cannot switch past it without that node either and
// its vectors are kept until the load after next, so the companies on the other
// nodes keep answering. It is checked again after Refresh, not on every lookup. A
// forced refresh, or none known, returns err.
func (s *Store) keep(g *generation, force bool, err error) (*generation, error) {
	if g == nil || force {
		return nil, err
	}
	kept := *g
	kept.checked = time.Now()
	s.cur.CompareAndSwap(g, &kept)
	return &kept, nil
}

// Get returns the vector of the company. Under a recording span it is a client span
// "redis.get" naming the feature set and generation read.
func (s *Store) Get(ctx context.Context, code string) (_ features.Vector, err error) {
	ctx, span := startSpan(ctx, "redis.get")
	defer func() { endSpan(span, err) }()
	g, err := s.current(ctx, false)
	if err != nil {
		return features.Vector{}, err
	}
	if span.IsRecording() {
		span.SetAttributes(attribute.String("db.system.name", "redis"), attribute.String("xinyi.feature_set", g.Set),
			attribute.Int64("xinyi.generation", g.Gen))
	}
	b, err := s.client.Get(ctx, s.key(g.Gen, code)).Bytes()
	if errors.Is(err, goredis.Nil) {
		// A newer generation may have replaced ours: check once before answering.
		ng, err2 := s.current(ctx, true)
		if err2 != nil {
			return features.Vector{}, err2
		}
		if ng.Gen != g.Gen {
			g = ng
			b, err = s.client.Get(ctx, s.key(g.Gen, code)).Bytes()
		}
	}
	if errors.Is(err, goredis.Nil) {
		return features.Vector{}, fmt.Errorf("%w: %s (%s as of %s)", features.ErrUnknownCompany, code, g.Set, g.AsOf.Format(time.DateOnly))
	}
	if err != nil {
		return features.Vector{}, fmt.Errorf("%w: get %s: %v", ErrUnavailable, code, err)
	}
	if len(b) != 8*len(g.Names) {
		return features.Vector{}, fmt.Errorf("%w: vector of %s has %d bytes, want %d", features.ErrInvalidSnapshot, code, len(b), 8*len(g.Names))
	}
	v := features.Vector{Code: code, Set: g.Set, AsOf: g.AsOf, Names: g.Names,
		Values: make([]float64, len(g.Names)), Status: make([]features.Status, len(g.Names))}
	for i := range v.Values {
		v.Values[i] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	}
	s.opts.Online.FillStatus(&v, g.sources)
	return v, nil
}

// Prefix returns the key prefix of the store.
func (s *Store) Prefix() string { return s.opts.Prefix }
