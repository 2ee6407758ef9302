package serving

import (
	"cmp"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// TaskRule marks a reason that comes from a policy hard rule rather than a model.
const TaskRule Task = "rule"

// Directions of a reason.
const (
	DirectionRaisesRisk  = "raises risk"
	DirectionLowersLimit = "lowers the limit"
)

// reasons turns one model's contributions into at most MaxReasons reason codes: the
// features that raise risk most (pd, violation) or lower the limit most (limit).
func (s *Service) reasons(t Task, set FeatureSet, x, contrib []float64) []Reason {
	idx := make([]int, 0, len(contrib))
	for i, c := range contrib {
		if (t == TaskLimit && c < 0) || (t != TaskLimit && c > 0) {
			idx = append(idx, i)
		}
	}
	sort.SliceStable(idx, func(a, b int) bool {
		return math.Abs(contrib[idx[a]]) > math.Abs(contrib[idx[b]])
	})
	if len(idx) > s.opts.MaxReasons {
		idx = idx[:s.opts.MaxReasons]
	}
	out := make([]Reason, 0, len(idx))
	dir, dirZH := DirectionRaisesRisk, "推高风险"
	if t == TaskLimit {
		dir, dirZH = DirectionLowersLimit, "压低额度"
	}
	for rank, i := range idx {
		id := set.Indicators[i]
		r := Reason{
			Code:         fmt.Sprintf("%s-%02d", strings.ToUpper(string(t)), rank+1),
			Model:        t,
			Indicator:    id,
			Contribution: contrib[i],
			Direction:    dir,
		}
		if v := x[i]; !math.IsNaN(v) {
			r.Value = &v
		}
		if f, ok := set.Request(id); ok {
			// A feature the caller sent: named by the set's descriptions, read
			// against no average.
			r.RequestFeature = true
			r.NameZH, r.NameEN = cmp.Or(f.Zh, f.En, f.Name), cmp.Or(f.En, f.Name)
			r.TextEN, r.TextZH = describeRequest(f, r.NameEN, r.NameZH, r.Value)
			if f.Type == features.FeatureCategorical && r.Value != nil {
				if c := int(*r.Value); c >= 0 && c < len(f.Categories) {
					r.Category = f.Categories[c]
				}
			}
			r.TextEN += " — " + dir
			r.TextZH += "，" + dirZH
			out = append(out, r)
			continue
		}
		var ind *Indicator
		if s.opts.Catalog != nil {
			if got, ok := s.opts.Catalog.Indicator(id); ok {
				ind = &got
				r.NameZH, r.NameEN = got.NameZH, got.NameEN
			}
		}
		if s.opts.Averages != nil {
			if a, ok := s.opts.Averages.Average(id); ok && !math.IsNaN(a) {
				r.IndustryAverage = &a
			}
		}
		r.TextEN, r.TextZH = describe(id, ind, r.Value, r.IndustryAverage)
		r.TextEN += " — " + dir
		r.TextZH += "，" + dirZH
		out = append(out, r)
	}
	return out
}

// describeRequest writes what a request feature's value is, in English and
// Chinese: the category sent for a categorical feature, the number and the
// set's unit for a numeric one.
func describeRequest(f *features.SetFeature, nameEN, nameZH string, value *float64) (en, zh string) {
	if value == nil {
		return nameEN + " was not given", nameZH + "未提供"
	}
	v := *value
	if f.Type == features.FeatureCategorical {
		if c := int(v); c >= 0 && c < len(f.Categories) && float64(c) == v {
			return fmt.Sprintf("%s is %s", nameEN, f.Categories[c]), fmt.Sprintf("%s为%s", nameZH, f.Categories[c])
		}
		return fmt.Sprintf("%s has category code %s", nameEN, fmtNum(v)), fmt.Sprintf("%s类别代码为%s", nameZH, fmtNum(v))
	}
	en = fmt.Sprintf("%s is %s", nameEN, fmtNum(v))
	zh = fmt.Sprintf("%s为%s", nameZH, fmtNum(v))
	if f.Unit != "" {
		en += " " + unitEN(f.Unit)
		zh += f.Unit
	}
	return en, zh
}

// describe writes "what the value is" in English and Chinese.
func describe(id string, ind *Indicator, value, avg *float64) (en, zh string) {
	nameEN, nameZH, unit := id, id, ""
	yoy := strings.Contains(id, ".yoy_")
	if ind != nil {
		nameEN, nameZH, unit = ind.NameEN, ind.NameZH, ind.Unit
		yoy = ind.Growth
	}
	if value == nil {
		return nameEN + " has no value", nameZH + "无数据"
	}
	v := *value
	if yoy {
		pct := fmtNum(math.Abs(v) * 100)
		switch {
		case v < 0:
			return fmt.Sprintf("%s: fell %s%%", nameEN, pct), fmt.Sprintf("%s：下降%s%%", nameZH, pct)
		case v > 0:
			return fmt.Sprintf("%s: rose %s%%", nameEN, pct), fmt.Sprintf("%s：上升%s%%", nameZH, pct)
		}
		return nameEN + ": unchanged", nameZH + "：持平"
	}
	if unit == "比率" {
		unit = ""
	}
	val := fmtNum(v)
	en = fmt.Sprintf("%s is %s", nameEN, val)
	if u := unitEN(unit); u != "" {
		en += " " + u
	}
	zh = fmt.Sprintf("%s为%s%s", nameZH, val, strings.TrimPrefix(unit, "0/1"))
	if avg != nil && *avg != 0 {
		rel := (v - *avg) / math.Abs(*avg) * 100
		a := fmtNum(*avg)
		switch {
		case rel <= -0.5:
			en += fmt.Sprintf(", %s%% below the industry average of %s", fmtNum(-rel), a)
			zh += fmt.Sprintf("，低于行业平均（%s）%s%%", a, fmtNum(-rel))
		case rel >= 0.5:
			en += fmt.Sprintf(", %s%% above the industry average of %s", fmtNum(rel), a)
			zh += fmt.Sprintf("，高于行业平均（%s）%s%%", a, fmtNum(rel))
		default:
			en += fmt.Sprintf(", about the industry average of %s", a)
			zh += fmt.Sprintf("，与行业平均（%s）相当", a)
		}
	}
	return en, zh
}

// unitsEN are the catalog's (Chinese) units in English.
var unitsEN = map[string]string{
	"元": "yuan", "元/月": "yuan a month", "月": "months", "天": "days", "次": "times", "笔": "records",
	"张": "invoices", "件": "items", "家": "companies", "人": "people", "人/月": "people a month",
	"千瓦时": "kWh", "千瓦时/月": "kWh a month", "立方米": "m³", "吨": "t", "吨/月": "t a month",
	"级": "grade", "层": "levels", "分": "points", "0/1": "",
}

// unitEN is the English form of a catalog unit; a unit it does not know is kept.
func unitEN(u string) string {
	if en, ok := unitsEN[u]; ok {
		return en
	}
	return u
}

// fmtNum prints a number with at most 3 significant decimals and no exponent for the
// magnitudes indicators have.
func fmtNum(v float64) string {
	switch a := math.Abs(v); {
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 1:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	default:
		return strconv.FormatFloat(math.Round(v*1000)/1000, 'f', -1, 64)
	}
}

// ruleReason explains a hard rule that set the colour.
func (s *Service) ruleReason(r policy.Rule, lookup policy.Lookup) Reason {
	out := Reason{Code: "RULE-" + r.ID, Model: TaskRule, Indicator: r.Indicator, Direction: DirectionRaisesRisk}
	var ind *Indicator
	if s.opts.Catalog != nil {
		if got, ok := s.opts.Catalog.Indicator(r.Indicator); ok {
			ind = &got
			out.NameZH, out.NameEN = got.NameZH, got.NameEN
		}
	}
	if v, ok := lookup(r.Indicator); ok {
		out.Value = &v
	}
	en, zh := describe(r.Indicator, ind, out.Value, nil)
	what := r.Description
	if what == "" {
		what = fmt.Sprintf("%s %s %s", r.Indicator, r.Op, fmtNum(r.Threshold))
	}
	out.TextEN = fmt.Sprintf("%s (%s) — colour at least %s", en, what, r.Colour)
	out.TextZH = fmt.Sprintf("%s（触发规则 %s），风险色至少为%s", zh, r.ID, colourZH(r.Colour))
	return out
}

func colourZH(c policy.Colour) string {
	switch c {
	case policy.Blue:
		return "蓝"
	case policy.Green:
		return "绿"
	case policy.Yellow:
		return "黄"
	case policy.Red:
		return "红"
	}
	return string(c)
}
