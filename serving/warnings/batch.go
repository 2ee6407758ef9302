package warnings

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/datasets/ingest"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/blob"
)

// OnBatch is the arrival side of a rule: when a batch of Source commits, each
// record it wrote (not a retraction or end of publicity) is tested with When,
// and the rule fires for the record's company from the batch's arrival date,
// with the records as evidence. The condition reads the record's columns by
// their contract names (numbers as float64, flags as bool, dates as
// "YYYY-MM-DD", the rest as text) and:
//
//	new         the record is the first revision of its key (not a correction)
//	revision    its revision
//	months_ago  months from its event month to the arrival month
//	days_ago    days from its event date to the arrival date
//
// A batch firing and the as-of evaluation share the rule and its one open
// warning per company, so the month end that sees the same records finds the
// warning open and keeps it, and When should describe what makes When of the
// rule fire at the next as-of date (the same window, the same column).
type OnBatch struct {
	Source string `yaml:"source" json:"source"`
	When   string `yaml:"when" json:"when"`

	program *vm.Program
	// sensitivity of the records shown as evidence: the most restricted of the
	// rule's indicators (public for a rule without one).
	sensitivity string
}

// MaxBatchRecords is the most records one firing quotes as evidence;
// Evidence.RecordCount counts them all.
const MaxBatchRecords = 20

// BatchRef names the delivery a firing on arrival came from.
type BatchRef struct {
	Source  string `json:"source"`
	ID      string `json:"id"`
	Arrival string `json:"arrival_date"`
}

// Record is one delivered record a warning rests on.
type Record struct {
	Source    string            `json:"source"`
	Key       []string          `json:"key,omitempty"`
	EventDate string            `json:"event_date"`
	Arrival   string            `json:"arrival_date"`
	Revision  int32             `json:"revision"`
	Values    map[string]string `json:"values,omitempty"`
	// Sensitivity is the record's disclosure level; Withheld is true when the
	// reader's clearance is below it and its key and values are left out.
	Sensitivity string `json:"sensitivity"`
	Withheld    bool   `json:"withheld,omitempty"`
}

func batchEnvOf(c *datasets.Contract) map[string]any {
	env := map[string]any{"new": false, "revision": 0, "months_ago": 0, "days_ago": 0}
	for _, col := range c.Columns {
		switch col.Type {
		case datasets.TypeFloat, datasets.TypeInt:
			env[col.Name] = 0.0
		case datasets.TypeBool:
			env[col.Name] = false
		default:
			env[col.Name] = ""
		}
	}
	return env
}

func (l *Library) compileBatch(r *Rule) error {
	b := r.OnBatch
	if b == nil {
		return nil
	}
	c, err := datasets.ContractOf(b.Source)
	if err != nil {
		return fmt.Errorf("%w: rule %s: on_batch source: %v", ErrRule, r.ID, err)
	}
	if c.Kind != datasets.Event && c.Kind != datasets.Monthly {
		return fmt.Errorf("%w: rule %s: on_batch source %s holds %s records, not events or monthly figures", ErrRule, r.ID, b.Source, c.Kind)
	}
	p, err := expr.Compile(b.When, expr.Env(batchEnvOf(c)), expr.AsBool())
	if err != nil {
		return fmt.Errorf("%w: rule %s: on_batch condition: %v", ErrRule, r.ID, err)
	}
	b.program = p
	b.sensitivity = access.SensitivityPublic
	for _, id := range r.indicators {
		if s := l.sensitivity[id]; clearanceRank(s) > clearanceRank(b.sensitivity) {
			b.sensitivity = s
		}
	}
	return nil
}

// BatchSources are the sources a rule of the library watches on arrival,
// sorted.
func (l *Library) BatchSources() []string {
	var out []string
	for _, r := range l.Rules {
		if r.OnBatch != nil && !slices.Contains(out, r.OnBatch.Source) {
			out = append(out, r.OnBatch.Source)
		}
	}
	slices.Sort(out)
	return out
}

// BatchEvaluation is what one committed batch fired.
type BatchEvaluation struct {
	Source  string `json:"source"`
	Batch   string `json:"batch"`
	Arrival string `json:"arrival_date"`
	Version string `json:"rules_version"`
	// Records counts the records the batch wrote (retractions included).
	Records int `json:"records"`
	// Firings are sorted by company, then in library order.
	Firings []Firing `json:"firings"`
}

// EvaluateBatch tests the records of one committed batch (rep, read from
// store) against the on-arrival conditions of the rules watching its source.
// A batch of a source no rule watches reads nothing and fires nothing.
func (l *Library) EvaluateBatch(ctx context.Context, store blob.Store, rep *ingest.Report) (*BatchEvaluation, error) {
	be := &BatchEvaluation{Source: rep.Source, Batch: rep.ID, Arrival: rep.Arrival, Version: l.Version}
	arrival, err := time.Parse(time.DateOnly, rep.Arrival)
	if err != nil {
		return nil, fmt.Errorf("%w: batch %s of %s has arrival date %q", ErrInput, rep.ID, rep.Source, rep.Arrival)
	}
	var rules []*Rule
	for _, r := range l.Rules {
		if r.OnBatch != nil && r.OnBatch.Source == rep.Source {
			rules = append(rules, r)
		}
	}
	if len(rules) == 0 {
		return be, nil
	}
	c, err := datasets.ContractOf(rep.Source)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInput, err)
	}
	arrDay := datasets.DayOf(arrival)
	type firing struct {
		records []Record
		count   int
	}
	fired := map[key]*firing{}
	var m vm.VM
	env := batchEnvOf(c)
	err = ingest.BatchFacts(ctx, store, rep, func(f ingest.Fact) error {
		be.Records++
		if f.Kind.Void() {
			return nil
		}
		event, err := time.Parse(time.DateOnly, f.Values["event_date"])
		if err != nil {
			return fmt.Errorf("%w: batch %s of %s: a record without an event date", ErrInput, rep.ID, rep.Source)
		}
		for _, col := range c.Columns {
			v := f.Values[col.Name]
			switch col.Type {
			case datasets.TypeFloat, datasets.TypeInt:
				x, err := strconv.ParseFloat(v, 64)
				if v == "" {
					x, err = 0, nil
				}
				if err != nil {
					return fmt.Errorf("%w: batch %s of %s: column %s holds %q", ErrInput, rep.ID, rep.Source, col.Name, v)
				}
				env[col.Name] = x
			case datasets.TypeBool:
				env[col.Name] = v == "true"
			default:
				env[col.Name] = v
			}
		}
		ed := datasets.DayOf(event)
		env["new"], env["revision"] = f.Revision == 0, int(f.Revision)
		env["months_ago"], env["days_ago"] = int(arrDay.Month()-ed.Month()), int(arrDay-ed)
		code := f.Values["code"]
		for _, r := range rules {
			out, err := m.Run(r.OnBatch.program, env)
			if err != nil {
				return fmt.Errorf("warnings: rule %s on batch %s: %w", r.ID, rep.ID, err)
			}
			if ok, _ := out.(bool); !ok {
				continue
			}
			k := key{r.ID, code}
			fr := fired[k]
			if fr == nil {
				fr = &firing{}
				fired[k] = fr
			}
			fr.count++
			if len(fr.records) < MaxBatchRecords {
				fr.records = append(fr.records, Record{Source: rep.Source, Key: f.Key, EventDate: f.Values["event_date"], Arrival: f.Arrival.String(),
					Revision: f.Revision, Values: f.Values, Sensitivity: r.OnBatch.sensitivity})
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, r := range l.Rules {
		for k, fr := range fired {
			if k.rule != r.ID {
				continue
			}
			be.Firings = append(be.Firings, Firing{Rule: r.ID, Severity: r.Severity, Area: r.Area, Company: k.company,
				Evidence: Evidence{AsOf: rep.Arrival, Values: []Value{}, Batch: &BatchRef{Source: rep.Source, ID: rep.ID, Arrival: rep.Arrival},
					Records: fr.records, RecordCount: fr.count}})
		}
	}
	order := map[string]int{}
	for i, r := range l.Rules {
		order[r.ID] = i
	}
	slices.SortFunc(be.Firings, func(a, b Firing) int {
		if a.Company != b.Company {
			if a.Company < b.Company {
				return -1
			}
			return 1
		}
		return order[a.Rule] - order[b.Rule]
	})
	return be, nil
}
