package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// Sentinel errors, wrapped with context.
var (
	// ErrTampered means Verify found a record whose hash, link or sequence is wrong.
	ErrTampered = errors.New("audit: chain broken")
	// ErrInvalid means an entry lacks a required field or holds unencodable data.
	ErrInvalid = errors.New("audit: invalid entry")
)

// Outcomes of an audited action.
const (
	OutcomeOK      = "ok"
	OutcomeRefused = "refused"
	// OutcomeFailed: the action was allowed but could not be completed (a
	// dependency failed); Reason says why.
	OutcomeFailed = "failed"
)

// GenesisHash is the prev_hash of the first record.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

//go:embed migrations/*.sql
var migrationFS embed.FS

// Entry is what a caller appends.
type Entry struct {
	Actor   string // who acted: a user name, or "system"
	Action  string // what was attempted, e.g. "model.version.create"
	Subject string // what it was done to, e.g. "model:pd-smb/3"
	Outcome string // OutcomeOK (default) or OutcomeRefused
	Reason  string // why it was refused, or a note
	Before  any    // state before; nil for none. Marshalled with encoding/json.
	After   any    // state after; nil for none.
}

// Record is one stored record of the chain.
type Record struct {
	Seq      int64           `json:"seq"`
	Time     time.Time       `json:"time"`
	Actor    string          `json:"actor"`
	Action   string          `json:"action"`
	Subject  string          `json:"subject"`
	Outcome  string          `json:"outcome"`
	Reason   string          `json:"reason,omitempty"`
	Before   json.RawMessage `json:"before"`
	After    json.RawMessage `json:"after"`
	PrevHash string          `json:"prev_hash"`
	Hash     string          `json:"hash"`
}

// Options configures a Log. The zero value is valid.
type Options struct {
	// Now returns the time stamped on records. Default time.Now.
	Now func() time.Time
	// VerifyBatch is how many records Verify reads per query. Default 1000.
	VerifyBatch int
	// MaxBatch caps how many concurrent Appends one transaction commits. Default 256.
	MaxBatch int
}

// EnsureDefaults fills zero fields.
func (o *Options) EnsureDefaults() {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyBatch <= 0 {
		o.VerifyBatch = 1000
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
}

// Log is the audit log in one metadata database. It is safe for concurrent use.
type Log struct {
	db   *metadb.DB
	opts Options

	qmu   sync.Mutex
	queue []*waiter // Appends waiting to be committed
	// turn is the write turn of Append (capacity 1): an Append waits for it or
	// for its record to be committed by whoever holds it, whichever comes first.
	turn chan struct{}

	// head is the head of the chain as this process last wrote or read it, when
	// known (headOK); batches are chained to it and written only if the stored
	// head still matches. Guarded by turn.
	head   Record
	headOK bool
}

// Migrations returns the schema migrations of the audit log.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Open migrates the audit schema in db and returns the log.
func Open(ctx context.Context, db *metadb.DB, opts Options) (*Log, error) {
	opts.EnsureDefaults()
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, "audit", ms); err != nil {
		return nil, fmt.Errorf("audit: open: %w", err)
	}
	return &Log{db: db, opts: opts, turn: make(chan struct{}, 1)}, nil
}

// Append adds one record in its own transaction and returns once it is
// committed. Concurrent Appends of this process are combined: whichever caller
// holds the write turn commits every record queued so far in one transaction
// (at most Options.MaxBatch), so a burst costs one commit instead of one each.
// Each caller still gets its own record, or the error of the transaction that
// carried it, and returns as soon as that transaction has committed, without
// waiting for the write turn the next batch holds.
//
// Under a recording span, the append is a span "audit.append" with the action and,
// for each batch this caller wrote, an event with the batch's size.
func (l *Log) Append(ctx context.Context, e Entry) (rec Record, err error) {
	ctx, span := startSpan(ctx, "audit.append")
	defer func() { endSpan(span, err) }()
	if span.IsRecording() {
		span.SetAttributes(attribute.String("audit.action", e.Action))
	}
	pe, err := l.prepare(e)
	if err != nil {
		return Record{}, err
	}
	w := &waiter{entry: pe, done: make(chan struct{})}
	l.qmu.Lock()
	l.queue = append(l.queue, w)
	l.qmu.Unlock()

	for {
		select {
		case <-w.done:
			return w.rec, w.err
		case l.turn <- struct{}{}:
		}
		select {
		case <-w.done: // committed by the previous holder
			<-l.turn
			return w.rec, w.err
		default:
		}
		l.qmu.Lock()
		n := min(len(l.queue), l.opts.MaxBatch)
		batch := l.queue[:n:n]
		l.queue = l.queue[n:]
		l.qmu.Unlock()
		// Others' records ride in this batch: the caller going away must not
		// abort them.
		l.writeBatch(context.WithoutCancel(ctx), batch)
		if span.IsRecording() {
			span.AddEvent("batch written", trace.WithAttributes(attribute.Int("audit.batch_size", len(batch))))
		}
		<-l.turn
	}
}

// waiter is one queued Append.
type waiter struct {
	entry preparedEntry
	rec   Record
	err   error
	done  chan struct{}
}

// preparedEntry is a validated entry with its canonical JSON.
type preparedEntry struct {
	Entry
	before, after json.RawMessage
}

func (l *Log) prepare(e Entry) (preparedEntry, error) {
	if e.Actor == "" || e.Action == "" || e.Subject == "" {
		return preparedEntry{}, fmt.Errorf("%w: actor, action and subject are required (got %q, %q, %q)", ErrInvalid, e.Actor, e.Action, e.Subject)
	}
	if e.Outcome == "" {
		e.Outcome = OutcomeOK
	}
	before, err := canonicalJSON(e.Before)
	if err != nil {
		return preparedEntry{}, fmt.Errorf("%w: before of %s: %v", ErrInvalid, e.Action, err)
	}
	after, err := canonicalJSON(e.After)
	if err != nil {
		return preparedEntry{}, fmt.Errorf("%w: after of %s: %v", ErrInvalid, e.Action, err)
	}
	return preparedEntry{Entry: e, before: before, after: after}, nil
}

// writeBatch commits the records of batch in one transaction and wakes their callers.
func (l *Log) writeBatch(ctx context.Context, batch []*waiter) {
	var recs []Record
	var err error
	if l.db.Dialect() == metadb.Postgres {
		recs, err = l.writeBatchPostgres(ctx, batch)
	} else {
		recs, err = l.writeBatchTx(ctx, batch)
	}
	for i, w := range batch {
		if err == nil {
			w.rec = recs[i]
		}
		w.err = err
		close(w.done)
	}
}

// optimisticTries is how often a PostgreSQL batch is rechained after another
// writer moved the head first before it takes the head's row lock instead (so
// writers that keep colliding still make progress, in lock order).
const optimisticTries = 3

// writeBatchPostgres writes a batch in one statement, which PostgreSQL runs as
// its own transaction: it moves the head from the one the records are chained
// to, and inserts them only if that head was still the stored one. When another
// writer (another process, or AppendTx) moved it first, nothing is written and
// the batch is chained again to the head read afresh. One round trip and one
// commit instead of a transaction's five or more. Under contention from other
// writers it falls back to a transaction that locks the head (writeBatchTx).
func (l *Log) writeBatchPostgres(ctx context.Context, batch []*waiter) ([]Record, error) {
	recs := make([]Record, len(batch))
	for range optimisticTries {
		if !l.headOK {
			var head Record
			if err := metadb.ScanOne(l.db.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"), &head.Seq, &head.Hash); err != nil {
				return nil, fmt.Errorf("audit: read head: %w", err)
			}
			l.head, l.headOK = head, true
		}
		prev := l.head
		for i, w := range batch {
			recs[i] = l.next(prev, w.entry)
			prev = recs[i]
		}
		query, args := batchStatement(l.head, recs)
		res, err := l.db.Exec(ctx, query, args...)
		if err != nil {
			l.headOK = false
			return nil, fmt.Errorf("audit: insert seq %d..%d: %w", recs[0].Seq, prev.Seq, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == int64(len(recs)) {
			l.head = prev
			return recs, nil
		}
		l.headOK = false // another writer moved the head: chain to the new one
	}
	return l.writeBatchTx(ctx, batch)
}

// batchStatement is the PostgreSQL statement that moves the head from prev to
// the last of recs and inserts recs, or does neither when the stored head is not
// prev.
func batchStatement(prev Record, recs []Record) (string, []any) {
	last := recs[len(recs)-1]
	var b strings.Builder
	b.WriteString(`WITH moved AS (UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ? RETURNING 1)
INSERT INTO audit_log (seq, at_ns, actor, action, subject, outcome, reason, before_json, after_json, prev_hash, hash)
SELECT v.* FROM (VALUES `)
	args := make([]any, 0, 4+11*len(recs))
	args = append(args, last.Seq, last.Hash, prev.Seq, prev.Hash)
	for i, r := range recs {
		if i == 0 {
			b.WriteString("(?::bigint, ?::bigint, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text)")
		} else {
			b.WriteString(", (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
		}
		args = append(args, r.Seq, r.Time.UnixNano(), r.Actor, r.Action, r.Subject, r.Outcome, r.Reason,
			string(r.Before), string(r.After), r.PrevHash, r.Hash)
	}
	b.WriteString(") AS v WHERE EXISTS (SELECT 1 FROM moved)")
	return b.String(), args
}

// writeBatchTx commits the records of batch in one transaction that holds the
// write lock (SQLite) or the head's row lock (PostgreSQL). The records are chained to the head this process last
// wrote, which the transaction moves only if the stored head is still that one;
// otherwise (another process, or AppendTx, moved it) they are chained to the
// stored head, read under the lock.
func (l *Log) writeBatchTx(ctx context.Context, batch []*waiter) ([]Record, error) {
	recs := make([]Record, len(batch))
	chain := func(head Record) Record {
		for i, w := range batch {
			recs[i] = l.next(head, w.entry)
			head = recs[i]
		}
		return head
	}
	var last Record
	err := l.db.Tx(ctx, func(tx *metadb.Tx) error {
		moved := false
		if l.headOK {
			last = chain(l.head)
			res, err := tx.Exec(ctx, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1 AND seq = ? AND hash = ?",
				last.Seq, last.Hash, l.head.Seq, l.head.Hash)
			if err != nil {
				return fmt.Errorf("audit: move head: %w", err)
			}
			n, err := res.RowsAffected()
			moved = err == nil && n == 1
		}
		if !moved {
			head, err := l.readHead(ctx, tx)
			if err != nil {
				return err
			}
			last = chain(head)
			if err := l.moveHead(ctx, tx, last); err != nil {
				return err
			}
		}
		for _, r := range recs {
			if err := l.insertRecord(ctx, tx, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		l.headOK = false
		return nil, err
	}
	l.head, l.headOK = last, true
	return recs, nil
}

// AppendTx adds one record inside the caller's transaction; it is committed or
// rolled back with it. Call it last in a transaction that also locks other rows,
// so every writer takes locks in the same order.
func (l *Log) AppendTx(ctx context.Context, tx *metadb.Tx, e Entry) (Record, error) {
	pe, err := l.prepare(e)
	if err != nil {
		return Record{}, err
	}
	head, err := l.readHead(ctx, tx)
	if err != nil {
		return Record{}, err
	}
	rec, err := l.insert(ctx, tx, head, pe)
	if err != nil {
		return Record{}, err
	}
	if err := l.moveHead(ctx, tx, rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// readHead locks the head row and returns it as a Record holding Seq and Hash.
func (l *Log) readHead(ctx context.Context, tx *metadb.Tx) (Record, error) {
	var head Record
	if err := metadb.ScanOne(tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"+tx.ForUpdate()), &head.Seq, &head.Hash); err != nil {
		return Record{}, fmt.Errorf("audit: read head: %w", err)
	}
	return head, nil
}

// next is the record of e that follows prev, stamped now and hashed.
func (l *Log) next(prev Record, e preparedEntry) Record {
	rec := Record{
		Seq: prev.Seq + 1, Time: time.Unix(0, l.opts.Now().UnixNano()).UTC(),
		Actor: e.Actor, Action: e.Action, Subject: e.Subject, Outcome: e.Outcome, Reason: e.Reason,
		Before: e.before, After: e.after, PrevHash: prev.Hash,
	}
	rec.Hash = Hash(rec)
	return rec
}

// insert writes the record that follows prev.
func (l *Log) insert(ctx context.Context, tx *metadb.Tx, prev Record, e preparedEntry) (Record, error) {
	rec := l.next(prev, e)
	if err := l.insertRecord(ctx, tx, rec); err != nil {
		return Record{}, err
	}
	return rec, nil
}

// insertRecord writes one chained record.
func (l *Log) insertRecord(ctx context.Context, tx *metadb.Tx, rec Record) error {
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log (seq, at_ns, actor, action, subject, outcome, reason, before_json, after_json, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Seq, rec.Time.UnixNano(), rec.Actor, rec.Action, rec.Subject, rec.Outcome, rec.Reason,
		string(rec.Before), string(rec.After), rec.PrevHash, rec.Hash); err != nil {
		return fmt.Errorf("audit: insert seq %d: %w", rec.Seq, err)
	}
	return nil
}

func (l *Log) moveHead(ctx context.Context, tx *metadb.Tx, head Record) error {
	if _, err := tx.Exec(ctx, "UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", head.Seq, head.Hash); err != nil {
		return fmt.Errorf("audit: move head: %w", err)
	}
	return nil
}

// canonicalJSON encodes v compactly; json.RawMessage and []byte holding JSON are
// re-encoded so that object keys are sorted and numbers keep their digits.
func canonicalJSON(v any) (json.RawMessage, error) {
	var raw []byte
	switch x := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case json.RawMessage:
		raw = x
	case map[string]any:
		if flatMap(x) {
			// encoding/json sorts a map's keys and writes scalars as the generic
			// round trip below would: the result is already canonical.
			return json.Marshal(x)
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if !json.Valid(raw) {
		return nil, errors.New("not valid JSON")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	b, err := json.Marshal(generic)
	if err != nil {
		return nil, err
	}
	return b, nil
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// flatMap reports whether every value of m is a scalar (nil, bool, valid UTF-8
// string or number, of a type without its own JSON or text encoding) or a
// []string, so that json.Marshal(m) is the canonical encoding of m. (Invalid
// UTF-8 is written as an escape that the round trip would turn into the raw
// replacement character.)
func flatMap(m map[string]any) bool {
	for k, v := range m {
		if !utf8.ValidString(k) {
			return false
		}
		switch x := v.(type) {
		case nil, bool, float64, float32, int, int64, int32, uint, uint64, uint32:
			continue
		case string:
			if !utf8.ValidString(x) {
				return false
			}
			continue
		case []string:
			for _, s := range x {
				if !utf8.ValidString(s) {
					return false
				}
			}
			continue
		}
		t := reflect.TypeOf(v)
		if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
			return false
		}
		switch t.Kind() {
		case reflect.Bool, reflect.Float32, reflect.Float64,
			reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		case reflect.String:
			if !utf8.ValidString(reflect.ValueOf(v).String()) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// Canonical returns the bytes a record's hash covers, before the prev_hash.
func Canonical(r Record) []byte {
	type canon struct {
		Seq     int64           `json:"seq"`
		Time    string          `json:"time"`
		Actor   string          `json:"actor"`
		Action  string          `json:"action"`
		Subject string          `json:"subject"`
		Outcome string          `json:"outcome"`
		Reason  string          `json:"reason"`
		Before  json.RawMessage `json:"before"`
		After   json.RawMessage `json:"after"`
	}
	c := canon{r.Seq, r.Time.UTC().Format(time.RFC3339Nano), r.Actor, r.Action, r.Subject, r.Outcome, r.Reason, r.Before, r.After}
	if len(c.Before) == 0 {
		c.Before = json.RawMessage("null")
	}
	if len(c.After) == 0 {
		c.After = json.RawMessage("null")
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(c); err != nil {
		// Only invalid RawMessage content can fail; hash the raw text instead so a
		// stored record with broken JSON still gets a deterministic, mismatching hash.
		return []byte(fmt.Sprintf("%d|%s|%s|%s|%s|%s|%s|%s|%s", r.Seq, c.Time, r.Actor, r.Action, r.Subject, r.Outcome, r.Reason, r.Before, r.After))
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Hash computes a record's hash from its canonical form and PrevHash.
func Hash(r Record) string {
	h := sha256.New()
	h.Write(Canonical(r))
	h.Write([]byte("\n"))
	h.Write([]byte(r.PrevHash))
	return hex.EncodeToString(h.Sum(nil))
}

// VerifyReport summarizes a successful Verify.
type VerifyReport struct {
	Records int64  // number of records checked
	Head    string // hash of the newest record (GenesisHash for an empty log)
}

// VerifyError names the first record where the chain is broken.
type VerifyError struct {
	Seq    int64
	Reason string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%v at seq %d: %s", ErrTampered, e.Seq, e.Reason)
}

// Unwrap makes errors.Is(err, ErrTampered) hold.
func (e *VerifyError) Unwrap() error { return ErrTampered }

// Verify walks the chain from seq 1 to the head as of its start and returns a
// *VerifyError (wrapping ErrTampered) naming the first record that was edited,
// removed or inserted, or whose link to the head row is wrong. Appends made while
// it runs are not checked and do not disturb it.
func (l *Log) Verify(ctx context.Context) (VerifyReport, error) {
	return l.VerifyProgress(ctx, nil)
}

// VerifyProgress is Verify that reports, after every batch, how many of the
// records up to the head it has checked (progress may be nil).
func (l *Log) VerifyProgress(ctx context.Context, progress func(done, total int64)) (VerifyReport, error) {
	var headSeq int64
	var headHash string
	if err := metadb.ScanOne(l.db.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"), &headSeq, &headHash); err != nil {
		return VerifyReport{}, fmt.Errorf("audit: read head: %w", err)
	}
	prev, next := GenesisHash, int64(1)
	for {
		recs, err := l.list(ctx, "seq >= ? AND seq <= ?", []any{next, headSeq}, "seq ASC", l.opts.VerifyBatch)
		if err != nil {
			return VerifyReport{}, err
		}
		for _, r := range recs {
			if r.Seq != next {
				return VerifyReport{}, &VerifyError{Seq: next, Reason: fmt.Sprintf("record missing (next present is %d)", r.Seq)}
			}
			if r.PrevHash != prev {
				return VerifyReport{}, &VerifyError{Seq: r.Seq, Reason: "prev_hash does not match the previous record"}
			}
			if got := Hash(r); got != r.Hash {
				return VerifyReport{}, &VerifyError{Seq: r.Seq, Reason: "content does not match its hash (record edited)"}
			}
			prev, next = r.Hash, r.Seq+1
		}
		if progress != nil {
			progress(next-1, headSeq)
		}
		if len(recs) < l.opts.VerifyBatch {
			break
		}
	}
	if next-1 != headSeq {
		return VerifyReport{}, &VerifyError{Seq: next, Reason: fmt.Sprintf("record missing (head is at %d)", headSeq)}
	}
	if prev != headHash {
		return VerifyReport{}, &VerifyError{Seq: headSeq, Reason: "head hash does not match the newest record"}
	}
	// Records past the head are either appends made while Verify ran (the head
	// has moved on by as many) or records inserted behind the log's back.
	var beyond, below, newHead int64
	if err := metadb.ScanOne(l.db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_log WHERE seq < 1"), &below); err != nil {
		return VerifyReport{}, fmt.Errorf("audit: count records: %w", err)
	}
	if err := metadb.ScanOne(l.db.QueryRow(ctx, "SELECT COUNT(*) FROM audit_log WHERE seq > ?", headSeq), &beyond); err != nil {
		return VerifyReport{}, fmt.Errorf("audit: count records: %w", err)
	}
	if err := metadb.ScanOne(l.db.QueryRow(ctx, "SELECT seq FROM audit_head WHERE id = 1"), &newHead); err != nil {
		return VerifyReport{}, fmt.Errorf("audit: read head: %w", err)
	}
	if below > 0 {
		return VerifyReport{}, &VerifyError{Seq: 0, Reason: fmt.Sprintf("%d record(s) with seq < 1", below)}
	}
	if beyond > newHead-headSeq {
		return VerifyReport{}, &VerifyError{Seq: headSeq + 1, Reason: fmt.Sprintf("%d record(s) beyond the head at %d", beyond-(newHead-headSeq), newHead)}
	}
	return VerifyReport{Records: headSeq, Head: headHash}, nil
}

// Filter selects records for List. Zero fields match everything.
type Filter struct {
	Subject       string // exact subject
	SubjectPrefix string // subject prefix, e.g. "model:pd-smb"
	Actor         string
	Action        string
	AfterSeq      int64 // only records with seq > AfterSeq
	Limit         int   // default 100, at most 10000
	Descending    bool  // newest first
}

// List returns records matching f in seq order.
func (l *Log) List(ctx context.Context, f Filter) ([]Record, error) {
	var where []string
	var args []any
	if f.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, f.Subject)
	}
	if f.SubjectPrefix != "" {
		where, args = append(where, "(subject = ? OR subject LIKE ? ESCAPE '\\')"), append(args, f.SubjectPrefix, likePrefix(f.SubjectPrefix)+"%")
	}
	if f.Actor != "" {
		where, args = append(where, "actor = ?"), append(args, f.Actor)
	}
	if f.Action != "" {
		where, args = append(where, "action = ?"), append(args, f.Action)
	}
	where, args = append(where, "seq > ?"), append(args, f.AfterSeq)
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 10000)
	order := "seq ASC"
	if f.Descending {
		order = "seq DESC"
	}
	return l.list(ctx, strings.Join(where, " AND "), args, order, f.Limit)
}

// likePrefix escapes LIKE wildcards and appends the separator of subjects with a
// sub-path ("model:x" matches "model:x/3" but not "model:xy").
func likePrefix(s string) string {
	s = strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(s)
	return s + "/"
}

func (l *Log) list(ctx context.Context, where string, args []any, order string, limit int) ([]Record, error) {
	rows, err := l.db.Query(ctx, fmt.Sprintf(`SELECT seq, at_ns, actor, action, subject, outcome, reason, before_json, after_json, prev_hash, hash
		FROM audit_log WHERE %s ORDER BY %s LIMIT %d`, where, order, limit), args...)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var ns int64
		var before, after string
		if err := rows.Scan(&r.Seq, &ns, &r.Actor, &r.Action, &r.Subject, &r.Outcome, &r.Reason, &before, &after, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("audit: scan: %w", err)
		}
		r.Time = time.Unix(0, ns).UTC()
		r.Before, r.After = json.RawMessage(before), json.RawMessage(after)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}
