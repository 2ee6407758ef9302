package financing

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/parquet-go/parquet-go"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// BankPrefix is the folder of the object store private to a bank: its
// repayments (raw/repayment/) and outcome labels (labels/).
func BankPrefix(bankID int64) string { return "banks/" + strconv.FormatInt(bankID, 10) + "/" }

// Label file keys under BankPrefix.
const (
	LabelCSVKey     = "labels/financing.csv"     // code, date (disbursement), label, loan_id
	LabelParquetKey = "labels/financing.parquet" // the labels table's format (datasets.LabelRow): defaults
)

// Repayment is one loan's status at one month end, as a bank records it.
type Repayment struct {
	LoanID      int64   `json:"loan_id"`
	Month       string  `json:"month"` // YYYY-MM
	Status      string  `json:"status"`
	DaysOverdue int     `json:"days_overdue"`
	Balance     float64 `json:"balance"`
	Paid        float64 `json:"paid"`
}

// bankStore is the principal's bank's private view of the object store.
func (s *Store) bankStore(bank int64) (*blob.Prefixed, error) {
	if s.opts.Blob == nil {
		return nil, fmt.Errorf("%w: no object store is configured", ErrUnavailable)
	}
	return blob.WithPrefix(s.opts.Blob, BankPrefix(bank))
}

// RecordRepayments records repayments of loans of the principal's bank: they are
// written as the bank's own repayment source through ingestion (validated by the
// repayment contract, under the bank's folder only) and the loans' statuses
// follow.
func (s *Store) RecordRepayments(ctx context.Context, p access.Principal, rows []Repayment) (*ingest.Report, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.repayments", Owner: p.InstitutionID,
		Operation: "financing.repayments.record"}); err != nil {
		return nil, err
	}
	if len(rows) == 0 || len(rows) > s.opts.MaxBatch {
		return nil, fmt.Errorf("%w: 1 to %d repayments, not %d", ErrInvalid, s.opts.MaxBatch, len(rows))
	}
	own, err := s.loans(ctx, `bank_id = ?`, p.InstitutionID)
	if err != nil {
		return nil, err
	}
	code := map[int64]string{}
	for _, l := range own {
		code[l.ID] = l.Company
	}
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"code", "event_date", "loan_id", "status", "days_overdue", "balance", "paid"})
	for i, r := range rows {
		c, ok := code[r.LoanID]
		if !ok {
			return nil, fmt.Errorf("%w: repayment %d: loan %d of institution %d", ErrNotFound, i+1, r.LoanID, p.InstitutionID)
		}
		w.Write([]string{c, r.Month, strconv.FormatInt(r.LoanID, 10), r.Status, strconv.Itoa(r.DaysOverdue),
			strconv.FormatFloat(r.Balance, 'f', -1, 64), strconv.FormatFloat(r.Paid, 'f', -1, 64)})
	}
	w.Flush()
	return s.ingestRepayments(ctx, p, "repayments.csv", &buf, 0)
}

// UploadRepayments ingests the bank's own repayment file (CSV or any format
// ingestion reads) as its private repayment source; rows of loans that are not
// the bank's are stored in its folder but change nothing else.
func (s *Store) UploadRepayments(ctx context.Context, p access.Principal, name string, r io.Reader) (*ingest.Report, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.repayments", Owner: p.InstitutionID,
		Operation: "financing.repayments.upload"}); err != nil {
		return nil, err
	}
	return s.ingestRepayments(ctx, p, name, r, -1)
}

func (s *Store) ingestRepayments(ctx context.Context, p access.Principal, name string, r io.Reader, maxBad float64) (*ingest.Report, error) {
	st, err := s.bankStore(p.InstitutionID)
	if err != nil {
		return nil, err
	}
	opts := ingest.Options{Now: s.opts.Now, Logger: s.opts.Logger}
	if maxBad != 0 {
		opts.MaxBad = maxBad
	}
	rep, ierr := ingest.New(st).Ingest(ctx, datasets.SourceRepayment, []ingest.Input{{Name: name, R: r}}, opts)
	e := audit.Entry{Actor: p.Actor(), Action: "financing.repayments.ingest", Subject: "financing.repayments:" + strconv.FormatInt(p.InstitutionID, 10)}
	if rep != nil {
		e.After = map[string]any{"batch": rep.ID, "rows": rep.Rows, "accepted": rep.Accepted, "rejected": rep.Rejected, "refused": rep.Refused}
	}
	if ierr != nil {
		e.Outcome, e.Reason = audit.OutcomeFailed, ierr.Error()
	}
	if _, err := s.opts.Audit.Append(context.WithoutCancel(ctx), e); err != nil {
		return nil, fmt.Errorf("%w: audit: %w", ErrUnavailable, err)
	}
	if ierr != nil {
		if errors.Is(ierr, ingest.ErrRefused) || errors.Is(ierr, ingest.ErrInvalidOptions) {
			return rep, fmt.Errorf("%w: %w", ErrInvalid, ierr)
		}
		return rep, fmt.Errorf("financing: ingest repayments: %w", ierr)
	}
	if err := s.refreshStatuses(ctx, p, st); err != nil {
		return rep, err
	}
	return rep, nil
}

// storedRepayment is a stored repayment row with the kind the platform stamps
// (datasets.RowKindColumn): a retraction voids the month from its revision on.
type storedRepayment struct {
	Code        string       `parquet:"code"`
	EventDate   datasets.Day `parquet:"event_date,date"`
	ArrivalDate datasets.Day `parquet:"arrival_date,date"`
	Revision    int32        `parquet:"revision"`
	Kind        int32        `parquet:"row_kind"`
	LoanID      string       `parquet:"loan_id"`
	Status      string       `parquet:"status"`
	DaysOverdue int32        `parquet:"days_overdue"`
	Balance     float64      `parquet:"balance"`
	Paid        float64      `parquet:"paid"`
}

// repayments reads the bank's stored repayment rows, the revision in force per
// (loan, month) unless it is void, sorted by loan and month.
func repayments(ctx context.Context, st blob.Store) ([]datasets.RepaymentRow, error) {
	src := datasets.RepaymentSource()
	infos, err := st.List(ctx, src.Prefix())
	if err != nil {
		return nil, err
	}
	if infos, err = datasets.VisibleParts(ctx, st, src.Name, infos); err != nil {
		return nil, err
	}
	type key struct {
		loan string
		day  datasets.Day
	}
	latest := map[key]storedRepayment{}
	for _, in := range infos {
		if !strings.HasSuffix(in.Key, ".parquet") {
			continue
		}
		data, _, err := blob.ReadAll(ctx, st, in.Key)
		if err != nil {
			return nil, err
		}
		rows, err := parquet.Read[storedRepayment](bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", datasets.ErrCorrupt, in.Key, err)
		}
		for _, r := range rows {
			k := key{r.LoanID, r.EventDate}
			if prev, ok := latest[k]; !ok || r.Revision > prev.Revision {
				latest[k] = r
			}
		}
	}
	out := make([]datasets.RepaymentRow, 0, len(latest))
	for _, r := range latest {
		if datasets.RowKind(r.Kind).Void() {
			continue
		}
		out = append(out, datasets.RepaymentRow{Code: r.Code, EventDate: r.EventDate, ArrivalDate: r.ArrivalDate, Revision: r.Revision,
			LoanID: r.LoanID, Status: r.Status, DaysOverdue: r.DaysOverdue, Balance: r.Balance, Paid: r.Paid})
	}
	slices.SortFunc(out, func(a, b datasets.RepaymentRow) int {
		if a.LoanID != b.LoanID {
			ai, _ := strconv.ParseInt(a.LoanID, 10, 64)
			bi, _ := strconv.ParseInt(b.LoanID, 10, 64)
			return int(ai - bi)
		}
		return int(a.EventDate - b.EventDate)
	})
	return out, nil
}

// refreshStatuses sets each disbursed loan of the bank to its latest month's
// status.
func (s *Store) refreshStatuses(ctx context.Context, p access.Principal, st blob.Store) error {
	rows, err := repayments(ctx, st)
	if err != nil {
		return fmt.Errorf("financing: read repayments: %w", err)
	}
	last := map[int64]datasets.RepaymentRow{}
	for _, r := range rows {
		id, err := strconv.ParseInt(r.LoanID, 10, 64)
		if err != nil {
			continue
		}
		last[id] = r // sorted by month: the last one wins
	}
	own, err := s.loans(ctx, `bank_id = ? AND disbursed_at_ns <> 0`, p.InstitutionID)
	if err != nil {
		return err
	}
	for _, l := range own {
		r, ok := last[l.ID]
		if !ok {
			continue
		}
		status := r.Status
		if status == datasets.RepaymentOverdue && r.DaysOverdue == 0 {
			status = LoanPerforming
		}
		if status == l.Status && int(r.DaysOverdue) == l.DaysOverdue {
			continue
		}
		err := s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.loan.status", Subject: loanSubject(l.ID),
			Before: map[string]any{"status": l.Status, "days_overdue": l.DaysOverdue}}, func(tx *metadb.Tx) (any, error) {
			_, err := tx.Exec(ctx, `UPDATE financing_loans SET status = ?, days_overdue = ? WHERE id = ?`, status, r.DaysOverdue, l.ID)
			return map[string]any{"status": status, "days_overdue": r.DaysOverdue, "month": r.EventDate.String()}, err
		})
		if err != nil {
			return fmt.Errorf("financing: loan %d status: %w", l.ID, err)
		}
	}
	return nil
}

// LabelHorizon is the number of month ends after disbursement a label looks at.
const LabelHorizon = 12

// LabelRow is one loan's outcome label.
type LabelRow struct {
	Code   string       `json:"code"`
	Date   datasets.Day `json:"date"` // disbursement
	Label  int          `json:"label"`
	LoanID int64        `json:"loan_id"`
}

// LabelFile describes the label files written for a bank.
type LabelFile struct {
	CSV       string `json:"csv"`     // key under the bank's folder
	Parquet   string `json:"parquet"` // key under the bank's folder
	Rows      int    `json:"rows"`
	Positives int    `json:"positives"`
	Excluded  int    `json:"excluded"` // not yet mature
	Labels    []LabelRow
}

// Labels derives the outcome labels of loans from repayment rows: over the
// LabelHorizon month ends from the disbursement's month on, 1 when any is 90+
// days overdue or in default, 0 when all twelve are recorded without; a loan
// neither bad nor with its twelfth month recorded is not yet mature and left out.
func Labels(loans []Loan, rows []datasets.RepaymentRow) (labels []LabelRow, defaults []datasets.LabelRow, excluded int) {
	byLoan := map[string][]datasets.RepaymentRow{}
	for _, r := range rows {
		byLoan[r.LoanID] = append(byLoan[r.LoanID], r)
	}
	for _, l := range loans {
		if l.DisbursedAt.IsZero() {
			continue
		}
		d := datasets.DayOf(l.DisbursedAt)
		first := d.Month()
		last := (first + LabelHorizon - 1).LastDay()
		label, seenLast := -1, false
		for _, r := range byLoan[strconv.FormatInt(l.ID, 10)] {
			if r.EventDate < d || r.EventDate > last {
				continue
			}
			if r.EventDate == last {
				seenLast = true
			}
			if r.DaysOverdue >= 90 || r.Status == datasets.RepaymentDefault {
				label = 1
				defaults = append(defaults, datasets.LabelRow{Code: l.Company, EventDate: r.EventDate, ArrivalDate: r.ArrivalDate,
					Kind: datasets.LabelDefault, Amount: r.Balance})
				break
			}
		}
		if label < 0 && seenLast {
			label = 0
		}
		if label < 0 {
			excluded++
			continue
		}
		labels = append(labels, LabelRow{Code: l.Company, Date: d, Label: label, LoanID: l.ID})
	}
	return labels, defaults, excluded
}

// BuildLabels writes the principal's bank's outcome labels for joint modelling
// from its loans and its private repayments: a CSV (code, date, label, loan_id)
// and the defaults in the labels table's Parquet format, both under the bank's
// own folder.
func (s *Store) BuildLabels(ctx context.Context, p access.Principal) (LabelFile, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.labels", Owner: p.InstitutionID,
		Operation: "financing.labels.build"}); err != nil {
		return LabelFile{}, err
	}
	st, err := s.bankStore(p.InstitutionID)
	if err != nil {
		return LabelFile{}, err
	}
	rows, err := repayments(ctx, st)
	if err != nil {
		return LabelFile{}, fmt.Errorf("financing: read repayments: %w", err)
	}
	own, err := s.loans(ctx, `bank_id = ?`, p.InstitutionID)
	if err != nil {
		return LabelFile{}, err
	}
	labels, defaults, excluded := Labels(own, rows)
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	w.Write([]string{"code", "date", "label", "loan_id"})
	lf := LabelFile{CSV: BankPrefix(p.InstitutionID) + LabelCSVKey, Parquet: BankPrefix(p.InstitutionID) + LabelParquetKey,
		Rows: len(labels), Excluded: excluded, Labels: labels}
	for _, l := range labels {
		w.Write([]string{l.Code, l.Date.String(), strconv.Itoa(l.Label), strconv.FormatInt(l.LoanID, 10)})
		lf.Positives += l.Label
	}
	w.Flush()
	if _, err := st.Put(ctx, LabelCSVKey, &buf); err != nil {
		return LabelFile{}, fmt.Errorf("financing: write %s: %w", lf.CSV, err)
	}
	buf.Reset()
	pw := parquet.NewGenericWriter[datasets.LabelRow](&buf, parquet.Compression(&parquet.Snappy))
	if _, err := pw.Write(defaults); err != nil {
		return LabelFile{}, fmt.Errorf("financing: encode labels: %w", err)
	}
	if err := pw.Close(); err != nil {
		return LabelFile{}, fmt.Errorf("financing: encode labels: %w", err)
	}
	if _, err := st.Put(ctx, LabelParquetKey, &buf); err != nil {
		return LabelFile{}, fmt.Errorf("financing: write %s: %w", lf.Parquet, err)
	}
	_, err = s.opts.Audit.Append(context.WithoutCancel(ctx), audit.Entry{Actor: p.Actor(), Action: "financing.labels.build",
		Subject: "financing.labels:" + strconv.FormatInt(p.InstitutionID, 10),
		After:   map[string]any{"rows": lf.Rows, "positives": lf.Positives, "excluded": lf.Excluded, "csv": lf.CSV}})
	if err != nil {
		return LabelFile{}, fmt.Errorf("%w: audit: %w", ErrUnavailable, err)
	}
	return lf, nil
}
