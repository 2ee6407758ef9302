package cases

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/jobs"
)

// Expiry is what one ExpirePublicity run did.
type Expiry struct {
	AsOf string `json:"as_of"`
	// Ended counts the penalty records whose publicity ended in this run.
	Ended int `json:"ended"`
	// Batch is the ingestion batch of their end-of-publicity rows ("" when none).
	Batch        string `json:"batch,omitempty"`
	RulesVersion string `json:"rules_version"`
}

// maxExpiryBatch bounds the rows of one expiry batch; a run with more ends
// them in several batches.
const maxExpiryBatch = 100_000

// ExpirePublicity ends, by itself, the publicity of every publicised penalty
// record whose maximum period (the rule table's publicity_months after its
// decision date) has passed by asOf (a day, China Standard Time): an
// end-of-publicity row for each goes in through ingestion, arriving now.
// Records already ended or withdrawn are skipped, so a second run changes
// nothing. asOf must not be after now.
func (s *Service) ExpirePublicity(ctx context.Context, asOf time.Time) (*Expiry, error) {
	now := s.opts.Now().UTC()
	day := datasets.DayOf(asOf.In(ingest.ChinaStandardTime))
	if day > datasets.DayOf(now.In(ingest.ChinaStandardTime)) {
		return nil, fmt.Errorf("%w: expiry as of %s is after today", ErrInvalid, day)
	}
	contract, err := datasets.ContractOf(datasets.SourcePenalty)
	if err != nil {
		return nil, err
	}
	out := &Expiry{AsOf: day.String(), RulesVersion: s.opts.Rules.Version}
	var rows []map[string]string
	companies := map[string]bool{}
	flush := func() error {
		if len(rows) == 0 {
			return nil
		}
		batch, err := s.deliver(ctx, contract, rows, datasets.RowEndOfPublicity, "expire-"+out.AsOf, now)
		if err != nil {
			return err
		}
		out.Batch = batch
		out.Ended += len(rows)
		rows = rows[:0]
		return nil
	}
	err = s.opts.Records.Each(ctx, datasets.SourcePenalty, func(f Fact) error {
		if !f.Counts() {
			return nil
		}
		sev, err := strconv.Atoi(f.Values["severity"])
		if err != nil {
			return nil // not a valid record of the contract; ingestion never stores one
		}
		class, err := s.opts.Rules.ClassOfSeverity(sev)
		if err != nil || !class.Publicised {
			return err
		}
		if datasets.DayOf(class.PublicityUntil(f.Event.Time())) > day {
			return nil
		}
		rows = append(rows, f.Values)
		companies[f.Company] = true
		if len(rows) >= maxExpiryBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return nil, fmt.Errorf("cases: expire publicity as of %s: %w", out.AsOf, err)
	}
	if _, err := s.opts.Audit.Append(ctx, audit.Entry{Actor: "system", Action: "case.publicity.expire", Subject: "source:" + datasets.SourcePenalty,
		After: map[string]any{"as_of": out.AsOf, "ended": out.Ended, "batch": out.Batch, "rules_version": out.RulesVersion}}); err != nil {
		return nil, fmt.Errorf("cases: audit expiry: %w", err)
	}
	switch len(companies) {
	case 0:
	case 1:
		for c := range companies {
			s.refresh(ctx, c, datasets.SourcePenalty, now)
		}
	default:
		s.refresh(ctx, "", datasets.SourcePenalty, now) // several companies: one recomputation
	}
	return out, nil
}

// ExpiryJobKind is the job kind of a publicity expiry run.
const ExpiryJobKind = "publicity_expire"

// ExpiryQueue is the queue expiry runs go to.
const ExpiryQueue = "cases"

// ExpiryArgs name the day to expire up to (YYYY-MM-DD).
type ExpiryArgs struct {
	AsOf string `json:"as_of"`
}

// Kind names the job kind.
func (ExpiryArgs) Kind() string { return ExpiryJobKind }

// RegisterExpiry installs the publicity_expire worker in ws: it runs
// svc.ExpirePublicity for the job's day (a retry after a failure ends only what
// is still in force).
func RegisterExpiry(ws *jobs.Workers, svc *Service) error {
	if svc == nil {
		return fmt.Errorf("%w: expiry jobs need the case service", ErrInvalid)
	}
	return jobs.Handle(ws, func(ctx context.Context, j *jobs.Job[ExpiryArgs]) error {
		t, err := time.ParseInLocation(time.DateOnly, j.Args.AsOf, ingest.ChinaStandardTime)
		if err != nil {
			return jobs.Permanent(fmt.Errorf("%w: as-of %q is not a date", ErrInvalid, j.Args.AsOf))
		}
		out, err := svc.ExpirePublicity(ctx, t)
		if err != nil {
			if errors.Is(err, ErrInvalid) {
				return jobs.Permanent(err)
			}
			return err
		}
		return jobs.RecordOutput(ctx, out)
	})
}

// EnqueueExpiry inserts a publicity_expire job for asOf unless an equal one is
// waiting or running.
func EnqueueExpiry(ctx context.Context, q *jobs.Queue, asOf string) (jobs.Inserted, error) {
	return q.Insert(ctx, ExpiryArgs{AsOf: asOf}, jobs.InsertOptions{Queue: ExpiryQueue, MaxAttempts: 5, Unique: true})
}
