package serving

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/xinyi-platform/xinyi/cases"
	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/lab"
)

// CaseRecords adds a company's own records to the console's cases: the records
// a company may dispute or apply to repair, each marked when under objection.
type CaseRecords struct {
	*Cases
	records cases.Records
	auth    cases.Authorizer
}

// NewCaseRecords returns c with the company's records read from records; auth
// decides (and audits refusing) who may read them: an account bound to the
// company.
func NewCaseRecords(c *Cases, records cases.Records, auth cases.Authorizer) *CaseRecords {
	return &CaseRecords{Cases: c, records: records, auth: auth}
}

// recordSources are the event sources whose records the page lists: one
// department record a row.
var recordSources = []string{datasets.SourcePenalty, datasets.SourceCourt}

// CompanyRecords implements lab.CaseRecords.
func (c *CaseRecords) CompanyRecords(ctx context.Context, p lab.Principal, code string) (string, []lab.RecordView, error) {
	code = creditcode.Normalize(code)
	if err := creditcode.Validate(code); err != nil {
		return "", nil, fmt.Errorf("%w: company %q: %v", lab.ErrInvalidInput, code, err)
	}
	res := access.Resource{Kind: "company", ID: code, Operation: "records"}
	if err := c.auth.Authorize(ctx, p.Principal, access.ActionActForCompany, res); err != nil {
		return "", nil, caseErr(err)
	}
	ds, err := c.svc.Disputed(ctx, code)
	if err != nil {
		return "", nil, err
	}
	disputed := make(map[string]int64, len(ds))
	for _, d := range ds {
		disputed[d.Record.String()] = d.Case
	}
	rules := c.svc.Rules()
	var out []lab.RecordView
	for _, source := range recordSources {
		con, err := datasets.ContractOf(source)
		if err != nil {
			return "", nil, err
		}
		err = c.records.Each(ctx, source, func(f cases.Fact) error {
			if f.Company != code {
				return nil
			}
			v := lab.RecordView{Source: source, SourceZh: con.NameZh, SourceEn: con.Name, Event: f.Event.Time(),
				Key: joinPairs(withoutCode(f.Ref.Key), " "), Ended: !f.Counts()}
			v.Case, v.Disputed = disputed[f.Ref.String()]
			for _, col := range con.Columns {
				if col.Name == "code" || col.Name == "event_date" {
					continue
				}
				v.Fields = append(v.Fields, field(&col, f.Values[col.Name]))
			}
			if source == datasets.SourcePenalty && rules != nil {
				v.RepairID = f.Ref.Key["penalty_id"]
				if sev, err := strconv.Atoi(f.Values["severity"]); err == nil {
					if cl, err := rules.ClassOfSeverity(sev); err == nil {
						v.Repair = &lab.RepairTerms{ClassZh: cl.NameZh, ClassEn: cl.NameEn, Publicised: cl.Publicised,
							From: cl.RepairFrom(v.Event), Until: cl.PublicityUntil(v.Event)}
					}
				}
			}
			out = append(out, v)
			return nil
		})
		if err != nil {
			return "", nil, err
		}
	}
	var name string
	if c.names != nil {
		name = c.names(code)
	}
	return name, out, nil
}

// SetDeadline implements lab.CaseDeadlines.
func (c *CaseRecords) SetDeadline(ctx context.Context, p lab.Principal, id int64, deadline time.Time, note string) error {
	_, err := c.svc.SetDeadline(ctx, p.Principal, id, deadline, note)
	return caseErr(err)
}

func withoutCode(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if k != "code" {
			out[k] = v
		}
	}
	return out
}

// field is a value as people read it: a code by its label, an amount in 元 as
// money (the page formats it in its language).
func field(col *datasets.Column, v string) lab.RecordField {
	out := lab.RecordField{NameZh: col.NameZh, NameEn: col.NameEn, Value: v, ValueEn: col.LabelsEn[v]}
	// Several department labels may map to one value: the first in order, so a
	// record reads the same every time.
	for _, label := range slices.Sorted(maps.Keys(col.Codes)) {
		if c := col.Codes[label]; c == v {
			// The department's own label in Chinese; in English the platform's
			// value when it is a word (an enumeration), else its English label.
			if out.ValueEn == "" && slices.Contains(col.Enum, v) {
				out.ValueEn = v
			}
			out.Value = label
			return out
		}
	}
	if col.Unit == "元" {
		if x, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(x) {
			out.Money, out.Amount = true, x
		}
	}
	return out
}
