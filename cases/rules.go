package cases

import (
	_ "embed"
	"fmt"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

//go:embed repair_rules.yaml
var rulesYAML []byte

// Class is one class of administrative-penalty record in the repair rules.
type Class struct {
	ID         string `yaml:"id" json:"id"`
	NameZh     string `yaml:"name_zh" json:"name_zh"`
	NameEn     string `yaml:"name_en" json:"name_en"`
	Publicised bool   `yaml:"publicised" json:"publicised"`
	// RepairAfterMonths is the shortest publicity before a company may apply for
	// repair, counted from the decision date.
	RepairAfterMonths int `yaml:"repair_after_months" json:"repair_after_months"`
	// PublicityMonths is the longest publicity: the record ends by itself then.
	PublicityMonths int `yaml:"publicity_months" json:"publicity_months"`
}

// RepairFrom is the first day a company may apply to repair a record of the
// class decided on decided.
func (c Class) RepairFrom(decided time.Time) time.Time {
	return decided.AddDate(0, c.RepairAfterMonths, 0)
}

// PublicityUntil is the day publicity of a record decided on decided ends by
// itself (the record no longer counts from that day on).
func (c Class) PublicityUntil(decided time.Time) time.Time {
	return decided.AddDate(0, c.PublicityMonths, 0)
}

// Rules is one version of the repair rule table.
type Rules struct {
	Version string  `yaml:"version" json:"version"`
	NameZh  string  `yaml:"name_zh" json:"name_zh"`
	NameEn  string  `yaml:"name_en" json:"name_en"`
	Classes []Class `yaml:"classes" json:"classes"`
	// PenaltySeverity maps the penalty source's severity codes to class ids.
	PenaltySeverity map[int]string `yaml:"penalty_severity" json:"penalty_severity"`
}

// DefaultRules returns the rule table shipped with the package
// (repair_rules.yaml).
func DefaultRules() (*Rules, error) { return ParseRules(rulesYAML) }

// ParseRules reads and checks a rule table: a version, unique classes with
// minimum ≤ maximum for publicised ones, and every severity 1–5 of the penalty
// source mapped to a known class.
func ParseRules(data []byte) (*Rules, error) {
	var r Rules
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%w: repair rules: %v", ErrInvalid, err)
	}
	if strings.TrimSpace(r.Version) == "" {
		return nil, fmt.Errorf("%w: repair rules: no version", ErrInvalid)
	}
	seen := map[string]bool{}
	for _, c := range r.Classes {
		switch {
		case c.ID == "" || seen[c.ID]:
			return nil, fmt.Errorf("%w: repair rules: class id %q empty or repeated", ErrInvalid, c.ID)
		case c.Publicised && (c.RepairAfterMonths < 0 || c.PublicityMonths <= 0 || c.RepairAfterMonths > c.PublicityMonths):
			return nil, fmt.Errorf("%w: repair rules: class %s: want 0 ≤ repair_after_months ≤ publicity_months and publicity_months > 0", ErrInvalid, c.ID)
		}
		seen[c.ID] = true
	}
	for sev := 1; sev <= 5; sev++ {
		id, ok := r.PenaltySeverity[sev]
		if !ok || !seen[id] {
			return nil, fmt.Errorf("%w: repair rules: penalty severity %d maps to no known class (%q)", ErrInvalid, sev, id)
		}
	}
	return &r, nil
}

// ClassOfSeverity returns the class of a penalty of the given severity code.
func (r *Rules) ClassOfSeverity(severity int) (Class, error) {
	id, ok := r.PenaltySeverity[severity]
	if ok {
		for _, c := range r.Classes {
			if c.ID == id {
				return c, nil
			}
		}
	}
	return Class{}, fmt.Errorf("%w: penalty severity %d has no class in repair rules %s", ErrInvalid, severity, r.Version)
}
