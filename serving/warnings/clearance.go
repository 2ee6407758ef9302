package warnings

import (
	"encoding/json"
	"fmt"

	"github.com/xinyi-platform/xinyi/internal/access"
)

// clearanceRank orders the sensitivities; 0 is unknown.
func clearanceRank(s string) int {
	switch s {
	case access.SensitivityPublic:
		return 1
	case access.SensitivityRestricted:
		return 2
	case access.SensitivityConfidential:
		return 3
	}
	return 0
}

// Sensitivity is the disclosure level of an evidence value: its indicator's,
// public for the registry status, restricted for the score and circle figures (a
// bank sees them for companies that consented).
func (l *Library) Sensitivity(name string) string {
	if s, ok := l.sensitivity[name]; ok {
		return s
	}
	if name == "status" {
		return access.SensitivityPublic
	}
	return access.SensitivityRestricted
}

// Redact returns evidence (JSON of Evidence) with every value above clearance
// (access.ClearanceOf) withheld: its name stays, its numbers go. A delivered
// record above clearance keeps its source and dates and loses its key and
// values.
func (l *Library) Redact(evidence json.RawMessage, clearance string) (json.RawMessage, error) {
	c := clearanceRank(clearance)
	if c == 0 {
		return nil, fmt.Errorf("%w: clearance %q is not public, restricted or confidential", ErrInput, clearance)
	}
	if len(evidence) == 0 {
		return evidence, nil
	}
	var e Evidence
	if err := json.Unmarshal(evidence, &e); err != nil {
		return nil, fmt.Errorf("warnings: stored evidence does not parse: %w", err)
	}
	changed := false
	for i, v := range e.Values {
		if clearanceRank(l.Sensitivity(v.Name)) > c {
			e.Values[i] = Value{Name: v.Name, Withheld: true}
			changed = true
		}
	}
	for i, r := range e.Records {
		if clearanceRank(r.Sensitivity) > c || clearanceRank(r.Sensitivity) == 0 {
			e.Records[i] = Record{Source: r.Source, EventDate: r.EventDate, Arrival: r.Arrival, Revision: r.Revision, Sensitivity: r.Sensitivity, Withheld: true}
			changed = true
		}
	}
	if !changed {
		return evidence, nil
	}
	return json.Marshal(e)
}

// RedactWarning returns a copy of w whose evidence respects clearance.
func (l *Library) RedactWarning(w *Warning, clearance string) (*Warning, error) {
	ev, err := l.Redact(w.Evidence, clearance)
	if err != nil {
		return nil, err
	}
	c := *w
	c.Evidence = ev
	return &c, nil
}
