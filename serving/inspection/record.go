package inspection

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/serving"
)

// InspectionID is the key of a firm's inspection in a plan in the raw source, the
// one its corrections repeat.
func InspectionID(plan int64, company string) string {
	return "plan-" + strconv.FormatInt(plan, 10) + "/" + company
}

// Record records the result of the inspection of in.Company in plan id for p: a
// user with the regulator role at the plan's owner. A firm the plan did not draw
// is refused, and so is a second result for a firm unless in.Correction asks for a
// new revision; both refusals are audited. The result, its raw row
// (raw/inspections/…, arriving today) and its audit record are committed together.
func (s *Service) Record(ctx context.Context, p serving.Principal, id int64, in ResultInput) (*Result, error) {
	op := "inspection.result.record"
	if in.Correction {
		op = "inspection.result.correct"
	}
	res := access.Resource{Kind: "plan", ID: strconv.FormatInt(id, 10), Operation: op}
	if _, err := access.Decide(p, access.ActionInspect, access.Resource{Owner: p.InstitutionID}); err != nil {
		return nil, s.authorize(ctx, p, access.ActionInspect, res, nil)
	}
	plan, err := s.loadPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	res.Owner = plan.InstitutionID
	if err := s.authorize(ctx, p, access.ActionInspect, res, ErrUnknownPlan); err != nil {
		return nil, err
	}
	code := creditcode.Normalize(in.Company)
	if err := creditcode.Validate(code); err != nil {
		return nil, fmt.Errorf("%w: company_code: %w", serving.ErrInvalidCompanyCode, err)
	}
	var item Item
	var team string
	err = metadb.ScanOne(s.opts.DB.QueryRow(ctx, `SELECT tier, inspectors FROM inspection_items WHERE plan_id = ? AND company_code = ?`, id, code),
		&item.Tier, &team)
	if errors.Is(err, metadb.ErrNotFound) {
		res.ID += "/" + code
		return nil, s.refused(ctx, p, res, fmt.Errorf("%w: plan %d did not draw %s", ErrNotInPlan, id, code))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read plan %d: %w", serving.ErrUnavailable, id, err)
	}
	now := s.opts.Now().UTC()
	today := datasets.DayOf(now)
	on, err := s.validate(in, plan, team, today)
	if err != nil {
		return nil, err
	}
	r := &Result{Plan: id, Company: code, Outcome: in.Outcome, Category: in.Category, Note: strings.TrimSpace(in.Note), Date: on.String(),
		Inspector: strings.TrimSpace(in.Inspector), RecordedBy: p.Actor(), RecordedAt: now, Arrival: today.String()}
	src := datasets.InspectionSource()
	var written string
	err = s.opts.DB.Tx(ctx, func(tx *metadb.Tx) error {
		var last int
		var n int
		if err := metadb.ScanOne(tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(MAX(revision), -1) FROM inspection_results WHERE plan_id = ? AND company_code = ?`,
			id, code), &n, &last); err != nil {
			return err
		}
		switch {
		case n > 0 && !in.Correction:
			return fmt.Errorf("%w: %s in plan %d has a result (revision %d); send a correction to replace it", ErrAlreadyRecorded, code, id, last)
		case n == 0 && in.Correction:
			return invalid("no result of %s in plan %d to correct: record it first", code, id)
		}
		r.Revision = last + 1
		rid, err := tx.InsertID(ctx, `INSERT INTO inspection_results (plan_id, company_code, revision, outcome, category, note, inspected_on, inspector,
			recorded_by, recorded_at_ns, arrival, raw_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '')`,
			id, code, r.Revision, r.Outcome, r.Category, r.Note, int32(on), r.Inspector, r.RecordedBy, now.UnixNano(), int32(today))
		if err != nil {
			if metadb.IsUniqueViolation(err) {
				return fmt.Errorf("%w: %s in plan %d was recorded at the same time; read it and send a correction", ErrAlreadyRecorded, code, id)
			}
			return err
		}
		r.Key = src.Key(on.Month(), int(rid))
		if _, err := tx.Exec(ctx, `UPDATE inspection_results SET raw_key = ? WHERE id = ?`, r.Key, rid); err != nil {
			return err
		}
		row := datasets.InspectionRow{Code: code, EventDate: on, ArrivalDate: today, Revision: int32(r.Revision), InspectionID: InspectionID(id, code),
			Outcome: r.Outcome, Category: r.Category, Inspector: r.Inspector, Regulator: plan.Institution, Tier: item.Tier}
		if err := putRow(ctx, s.opts.Store, r.Key, row); err != nil {
			return fmt.Errorf("%w: %w", serving.ErrUnavailable, err)
		}
		written = r.Key
		if s.opts.Audit == nil {
			return nil
		}
		_, err = s.opts.Audit.AppendTx(ctx, tx, audit.Entry{Actor: r.RecordedBy, Action: op, Subject: "plan:" + strconv.FormatInt(id, 10) + "/" + code,
			After: r})
		return err
	})
	if err != nil {
		if written != "" {
			// The row must not outlive a result that was not committed.
			if derr := s.opts.Store.Delete(context.WithoutCancel(ctx), written); derr != nil {
				s.opts.Logger.Error("remove the raw row of an uncommitted inspection result", "key", written, "err", derr)
			}
		}
		if errors.Is(err, ErrAlreadyRecorded) {
			res.ID += "/" + code
			return nil, s.refused(ctx, p, res, err)
		}
		if errors.Is(err, serving.ErrInvalidInput) || errors.Is(err, serving.ErrUnavailable) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: record result: %w", serving.ErrUnavailable, err)
	}
	return r, nil
}

// validate checks a result's fields and returns its inspection day.
func (s *Service) validate(in ResultInput, plan *Plan, team string, today datasets.Day) (datasets.Day, error) {
	if !slices.Contains(Outcomes, in.Outcome) {
		return 0, invalid("outcome %q: want one of %s", in.Outcome, strings.Join(Outcomes, ", "))
	}
	switch {
	case in.Outcome == datasets.InspectionNoProblem && in.Category != "":
		return 0, invalid("category %q with outcome no_problem: a category names a problem found", in.Category)
	case in.Outcome == datasets.InspectionProblem && in.Category == "":
		return 0, invalid("outcome problem needs a category: one of %s", categoryIDs())
	}
	if in.Category != "" {
		if _, ok := categoryByID(in.Category); !ok {
			return 0, invalid("category %q: want one of %s", in.Category, categoryIDs())
		}
	}
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(in.Date))
	if err != nil {
		return 0, invalid("date %q is not YYYY-MM-DD", in.Date)
	}
	on := datasets.DayOf(t)
	if drawn := datasets.DayOf(plan.CreatedAt); on < drawn || on > today {
		return 0, invalid("date %s: an inspection of this plan happens between its draw (%s) and today (%s)", on, drawn, today)
	}
	var members []string
	if err := json.Unmarshal([]byte(team), &members); err != nil {
		return 0, fmt.Errorf("plan %d: inspectors: %w", plan.ID, err)
	}
	if name := strings.TrimSpace(in.Inspector); name == "" || !slices.Contains(members, name) {
		return 0, invalid("inspector %q is not assigned to this firm (its inspectors: %s)", in.Inspector, strings.Join(members, ", "))
	}
	return on, nil
}

// putRow writes one inspection row as a Parquet object.
func putRow(ctx context.Context, store blob.Store, key string, row datasets.InspectionRow) error {
	var buf bytes.Buffer
	w := parquet.NewGenericWriter[datasets.InspectionRow](&buf, parquet.Compression(&parquet.Zstd))
	if _, err := w.Write([]datasets.InspectionRow{row}); err != nil {
		return fmt.Errorf("raw row %s: %w", key, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("raw row %s: %w", key, err)
	}
	if _, err := blob.PutBytes(ctx, store, key, buf.Bytes()); err != nil {
		return fmt.Errorf("store %s: %w", key, err)
	}
	return nil
}
