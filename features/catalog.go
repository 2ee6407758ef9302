package features

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/xinyi-platform/xinyi/datasets"
)

// Sentinel errors of the package, wrapped with the file, line, id or path involved.
var (
	// ErrCatalog reports an invalid catalog file: unknown source or column, duplicate
	// id, bad window, unknown aggregation, a malformed entry.
	ErrCatalog = errors.New("features: invalid catalog")
	// ErrUnknownIndicator reports an indicator id that the catalog does not define.
	ErrUnknownIndicator = errors.New("features: unknown indicator")
	// ErrUnknownSet reports a feature set name or version that the catalog does not define.
	ErrUnknownSet = errors.New("features: unknown feature set")
)

//go:embed catalog/*.yaml
var embeddedCatalog embed.FS

// Dimension is one of the indicator dimensions of the platform (the five forces plus
// compliance and network).
type Dimension string

// The dimensions.
const (
	DimCapital       Dimension = "capital"       // 资本实力 capital strength
	DimOperating     Dimension = "operating"     // 运营能力 operating capability
	DimProfitability Dimension = "profitability" // 盈利能力 profitability
	DimSolvency      Dimension = "solvency"      // 偿付能力 solvency
	DimGrowth        Dimension = "growth"        // 发展潜力 growth potential
	DimCompliance    Dimension = "compliance"    // 合规 compliance
	DimNetwork       Dimension = "network"       // 关联 network
)

// Dimensions lists every dimension in display order.
var Dimensions = []Dimension{DimCapital, DimOperating, DimProfitability, DimSolvency, DimGrowth, DimCompliance, DimNetwork}

// DimensionZH returns the Chinese name of a dimension.
func DimensionZH(d Dimension) string {
	switch d {
	case DimCapital:
		return "资本实力"
	case DimOperating:
		return "运营能力"
	case DimProfitability:
		return "盈利能力"
	case DimSolvency:
		return "偿付能力"
	case DimGrowth:
		return "发展潜力"
	case DimCompliance:
		return "合规"
	case DimNetwork:
		return "关联"
	}
	return ""
}

// Aggregation is how an indicator reduces a company's monthly series over its window.
type Aggregation string

// The aggregations. Value and Graph take window 0: Value reads a static registry
// attribute, Graph a guarantee-network measure.
const (
	AggSum         Aggregation = "sum"
	AggMean        Aggregation = "mean"
	AggCount       Aggregation = "count"
	AggMax         Aggregation = "max"
	AggLast        Aggregation = "last"
	AggSlope       Aggregation = "slope"
	AggYoY         Aggregation = "yoy"
	AggMonthsSince Aggregation = "months_since"
	AggCV          Aggregation = "cv"
	AggValue       Aggregation = "value"
	AggGraph       Aggregation = "graph"
)

var windowedAggs = []Aggregation{AggSum, AggMean, AggCount, AggMax, AggLast, AggSlope, AggYoY, AggMonthsSince, AggCV}

// Windows are the allowed window lengths in months for windowed aggregations.
var Windows = []int{3, 6, 12, 24}

// MaxWindow is the longest window; yoy looks a further 12 months back.
const MaxWindow = 24

// Direction is the monotone relation of an indicator with risk quality, used as a
// training constraint.
type Direction string

// The directions.
const (
	HigherBetter Direction = "higher_better"
	HigherWorse  Direction = "higher_worse"
	NoDirection  Direction = "none"
)

// Sensitivity is the disclosure level of an indicator.
type Sensitivity string

// The sensitivity levels.
const (
	Public       Sensitivity = "public"
	Restricted   Sensitivity = "restricted"
	Confidential Sensitivity = "confidential"
)

// SourceKind says how the records of a raw source are read.
type SourceKind string

// The source kinds.
const (
	// KindMonthly: one value per company and month; a later-arriving record for the
	// same month supersedes the earlier one from its arrival on.
	KindMonthly SourceKind = "monthly"
	// KindEvent: every record is an event and counts.
	KindEvent SourceKind = "event"
	// KindStatic: registry attributes, one current row per company.
	KindStatic SourceKind = "static"
	// KindRelation: links between two companies (guarantees).
	KindRelation SourceKind = "relation"
)

// GraphMeasures are the columns an indicator with aggregation graph may name.
var GraphMeasures = []string{"in_circle", "circle_size", "given_count", "given_amount", "received_count",
	"received_amount", "defaulted_neighbours", "chain_length", "contagion"}

// Pos is where an entry was defined.
type Pos struct {
	File string
	Line int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Source is a raw department table as the feature store reads it.
type Source struct {
	Name       string     `yaml:"name" json:"name"`
	NameZH     string     `yaml:"name_zh" json:"name_zh"`
	Department string     `yaml:"department" json:"department"`
	Kind       SourceKind `yaml:"kind" json:"kind"`
	IDColumn   string     `yaml:"id_column" json:"id_column,omitempty"` // event and relation sources: the key of corrections
	Columns    []string   `yaml:"columns" json:"columns"`
	Pos        Pos        `yaml:"-" json:"-"`
}

// Indicator is one entry of the indicator library.
type Indicator struct {
	ID          string `yaml:"id" json:"id"`
	NameZH      string `yaml:"name_zh" json:"name_zh"`
	NameEN      string `yaml:"name_en" json:"name_en"`
	Description string `yaml:"description" json:"description"`
	// DescriptionZH (optional) is the Chinese definition where DefinitionZH
	// cannot derive it from the aggregation (values, guarantee network).
	DescriptionZH string      `yaml:"description_zh" json:"description_zh,omitempty"`
	Dimension     Dimension   `yaml:"dimension" json:"dimension"`
	Sources       []string    `yaml:"sources" json:"sources"`
	Column        string      `yaml:"column" json:"column"`
	Aggregation   Aggregation `yaml:"aggregation" json:"aggregation"`
	Window        int         `yaml:"window" json:"window"`
	Unit          string      `yaml:"unit" json:"unit"`
	Direction     Direction   `yaml:"direction" json:"direction"`
	Sensitivity   Sensitivity `yaml:"sensitivity" json:"sensitivity"`
	Pos           Pos         `yaml:"-" json:"-"`
}

// DefinitionZH says in Chinese what the indicator measures: its description_zh
// when the catalog gives one, otherwise the definition its aggregation and
// window imply, worded around the measure named in name_zh (the Chinese
// counterpart of Description).
func (ind *Indicator) DefinitionZH() string {
	if ind.DescriptionZH != "" {
		return ind.DescriptionZH
	}
	subj := ind.NameZH
	if i := strings.Index(subj, "个月"); strings.HasPrefix(subj, "近") && i > 0 {
		subj = subj[i+len("个月"):]
	}
	for _, suf := range []string{"同比增长率", "趋势斜率", "变异系数", "月均值", "最大值", "最近值", "合计", "次数"} {
		if t, ok := strings.CutSuffix(subj, suf); ok {
			subj = t
			break
		}
	}
	w := ind.Window
	const arrived = "只计观察日前已报送到平台的数据。"
	switch ind.Aggregation {
	case AggSum:
		return fmt.Sprintf("近 %d 个月%s逐月相加。%s", w, subj, arrived)
	case AggMean:
		return fmt.Sprintf("近 %d 个月中有记录月份的%s月平均值。%s", w, subj, arrived)
	case AggMax:
		return fmt.Sprintf("近 %d 个月%s的月度最大值。%s", w, subj, arrived)
	case AggLast:
		return fmt.Sprintf("近 %d 个月内最近一个有记录月份的%s。%s", w, subj, arrived)
	case AggYoY:
		return fmt.Sprintf("近 %d 个月%s的月均值相对上年同期月均值的增长率。%s", w, subj, arrived)
	case AggSlope:
		return fmt.Sprintf("近 %d 个月%s对月份序号的最小二乘趋势斜率（平均每月变化量）。%s", w, subj, arrived)
	case AggCV:
		return fmt.Sprintf("近 %d 个月%s的总体标准差除以均值，衡量波动程度。%s", w, subj, arrived)
	case AggMonthsSince:
		if t, ok := strings.CutPrefix(ind.NameZH, "距最近一次"); ok {
			subj, _, _ = strings.Cut(t, "月数")
		}
		return fmt.Sprintf("观察月与近 %d 个月内最近一次%s不为零的月份相隔的月数；没有这样的月份时为缺失。%s", w, subj, arrived)
	case AggCount:
		return fmt.Sprintf("近 %d 个月内发生、且在观察日前已报送到平台的%s条数。", w, subj)
	}
	return ind.NameZH
}

// Source returns the primary source of the indicator (the one its column belongs to).
func (ind *Indicator) Source() string { return ind.Sources[0] }

// FeatureSet is a named, versioned list of indicators.
type FeatureSet struct {
	Name        string   `yaml:"name" json:"name"`
	Version     int      `yaml:"version" json:"version"`
	Description string   `yaml:"description" json:"description"`
	Label       string   `yaml:"label" json:"label"`
	Indicators  []string `yaml:"indicators" json:"indicators"`
	Pos         Pos      `yaml:"-" json:"-"`
}

// Key returns "name/vN".
func (s *FeatureSet) Key() string { return s.Ref().String() }

// Catalog is the validated indicator library: sources, indicators and feature sets.
type Catalog struct {
	sources    map[string]*Source
	indicators []*Indicator
	byID       map[string]*Indicator
	sets       []*FeatureSet
}

// DefaultCatalog loads and validates the catalog embedded in the binary.
func DefaultCatalog() (*Catalog, error) {
	sub, err := fs.Sub(embeddedCatalog, "catalog")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	return LoadCatalog(sub)
}

// LoadCatalog reads every *.yaml file at the root of fsys. A file may hold any of the
// top-level keys "sources", "indicators" and "sets". Everything is validated: an error
// names the file and line of the offending entry.
func LoadCatalog(fsys fs.FS) (*Catalog, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCatalog, err)
	}
	sort.Strings(names)
	files := make(map[string][]byte, len(names))
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("%w: read %s: %v", ErrCatalog, n, err)
		}
		files[n] = b
	}
	return ParseCatalog(files)
}

// ParseCatalog validates a catalog given as file name → YAML content.
func ParseCatalog(files map[string][]byte) (*Catalog, error) {
	c := &Catalog{sources: map[string]*Source{}, byID: map[string]*Indicator{}}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	var inds []*Indicator
	var sets []*FeatureSet
	for _, name := range names {
		var doc yaml.Node
		if err := yaml.Unmarshal(files[name], &doc); err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrCatalog, name, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		root := doc.Content[0]
		if root.Kind != yaml.MappingNode {
			return nil, catErr(name, root.Line, "top level must be a mapping with sources, indicators or sets")
		}
		for i := 0; i+1 < len(root.Content); i += 2 {
			key, val := root.Content[i], root.Content[i+1]
			if val.Kind != yaml.SequenceNode {
				return nil, catErr(name, val.Line, "%s must be a list", key.Value)
			}
			for _, item := range val.Content {
				pos := Pos{File: name, Line: item.Line}
				switch key.Value {
				case "sources":
					var s Source
					if err := decodeStrict(item, &s, pos); err != nil {
						return nil, err
					}
					s.Pos = pos
					if s.Name == "" {
						return nil, catErr(name, item.Line, "source without a name")
					}
					if err := fillFromContract(&s); err != nil {
						return nil, catErr(name, item.Line, "source %q: %v", s.Name, err)
					}
					if prev, dup := c.sources[s.Name]; dup {
						return nil, catErr(name, item.Line, "duplicate source %q (first at %s)", s.Name, prev.Pos)
					}
					if (s.Kind == KindEvent || s.Kind == KindRelation) && s.IDColumn == "" {
						return nil, catErr(name, item.Line, "source %q: %s source needs an id_column", s.Name, s.Kind)
					}
					switch s.Kind {
					case KindMonthly, KindEvent, KindStatic, KindRelation:
					default:
						return nil, catErr(name, item.Line, "source %q: unknown kind %q (monthly, event, static, relation)", s.Name, s.Kind)
					}
					c.sources[s.Name] = &s
				case "indicators":
					ind := new(Indicator)
					if err := decodeStrict(item, ind, pos); err != nil {
						return nil, err
					}
					ind.Pos = pos
					inds = append(inds, ind)
				case "sets":
					s := new(FeatureSet)
					if err := decodeStrict(item, s, pos); err != nil {
						return nil, err
					}
					s.Pos = pos
					sets = append(sets, s)
				default:
					return nil, catErr(name, key.Line, "unknown top-level key %q (sources, indicators, sets)", key.Value)
				}
			}
		}
	}
	for _, ind := range inds {
		if err := c.validateIndicator(ind); err != nil {
			return nil, err
		}
		if prev, dup := c.byID[ind.ID]; dup {
			return nil, catErr(ind.Pos.File, ind.Pos.Line, "duplicate indicator id %q (first at %s)", ind.ID, prev.Pos)
		}
		c.byID[ind.ID] = ind
		c.indicators = append(c.indicators, ind)
	}
	seen := map[string]*FeatureSet{}
	for _, s := range sets {
		if s.Name == "" || s.Version < 1 {
			return nil, catErr(s.Pos.File, s.Pos.Line, "feature set needs a name and a version >= 1")
		}
		if prev, dup := seen[s.Key()]; dup {
			return nil, catErr(s.Pos.File, s.Pos.Line, "duplicate feature set %s (first at %s)", s.Key(), prev.Pos)
		}
		if len(s.Indicators) == 0 {
			return nil, catErr(s.Pos.File, s.Pos.Line, "feature set %s has no indicators", s.Key())
		}
		in := map[string]bool{}
		for _, id := range s.Indicators {
			if _, ok := c.byID[id]; !ok {
				return nil, catErr(s.Pos.File, s.Pos.Line, "feature set %s: unknown indicator %q", s.Key(), id)
			}
			if in[id] {
				return nil, catErr(s.Pos.File, s.Pos.Line, "feature set %s lists %q twice", s.Key(), id)
			}
			in[id] = true
		}
		seen[s.Key()] = s
		c.sets = append(c.sets, s)
	}
	return c, nil
}

func catErr(file string, line int, format string, args ...any) error {
	return fmt.Errorf("%w: %s:%d: %s", ErrCatalog, file, line, fmt.Sprintf(format, args...))
}

// decodeStrict decodes a mapping node into v, refusing keys v does not know.
func decodeStrict(n *yaml.Node, v any, pos Pos) error {
	if n.Kind != yaml.MappingNode {
		return catErr(pos.File, pos.Line, "entry must be a mapping")
	}
	known := yamlKeys(v)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !slices.Contains(known, k.Value) {
			return catErr(pos.File, k.Line, "unknown field %q", k.Value)
		}
	}
	if err := n.Decode(v); err != nil {
		return catErr(pos.File, pos.Line, "%v", err)
	}
	return nil
}

// fillFromContract takes what a source is from its datasets contract, the one
// description of the raw table: name_zh, department, kind and (event and relation
// sources) id_column. A catalog entry names the source and lists the columns
// indicators may aggregate; a field it gives anyway must agree with the contract.
func fillFromContract(s *Source) error {
	c, err := datasets.ContractOf(s.Name)
	if err != nil {
		return fmt.Errorf("not a department table of datasets (%v)", err)
	}
	id := ""
	if k := SourceKind(c.KindName); k == KindEvent || k == KindRelation {
		id = c.Key[0]
	}
	for _, f := range []struct {
		field string
		got   *string
		want  string
	}{
		{"name_zh", &s.NameZH, c.NameZh},
		{"department", &s.Department, c.Department},
		{"kind", (*string)(&s.Kind), c.KindName},
		{"id_column", &s.IDColumn, id},
	} {
		if *f.got == "" {
			*f.got = f.want
		} else if *f.got != f.want {
			return fmt.Errorf("%s %q, the datasets contract says %q", f.field, *f.got, f.want)
		}
	}
	return nil
}

func yamlKeys(v any) []string {
	switch v.(type) {
	case *Source:
		return []string{"name", "name_zh", "department", "kind", "id_column", "columns"}
	case *Indicator:
		return []string{"id", "name_zh", "name_en", "description", "description_zh", "dimension", "sources", "column", "aggregation", "window", "unit", "direction", "sensitivity"}
	case *FeatureSet:
		return []string{"name", "version", "description", "label", "indicators"}
	}
	return nil
}

func (c *Catalog) validateIndicator(ind *Indicator) error {
	bad := func(format string, args ...any) error {
		return catErr(ind.Pos.File, ind.Pos.Line, "indicator %q: %s", ind.ID, fmt.Sprintf(format, args...))
	}
	if ind.ID == "" {
		return catErr(ind.Pos.File, ind.Pos.Line, "indicator without an id")
	}
	if strings.ContainsAny(ind.ID, " \t/\\\"'") {
		return bad("id may not contain spaces, slashes or quotes")
	}
	if ind.NameZH == "" || ind.NameEN == "" {
		return bad("name_zh and name_en are required")
	}
	if !slices.Contains(Dimensions, ind.Dimension) {
		return bad("unknown dimension %q", ind.Dimension)
	}
	if len(ind.Sources) == 0 {
		return bad("no source")
	}
	for _, s := range ind.Sources {
		if _, ok := c.sources[s]; !ok {
			return bad("unknown source %q", s)
		}
	}
	src := c.sources[ind.Sources[0]]
	switch {
	case slices.Contains(windowedAggs, ind.Aggregation):
		if src.Kind != KindMonthly && src.Kind != KindEvent {
			return bad("aggregation %s needs a monthly or event source, %s is %s", ind.Aggregation, src.Name, src.Kind)
		}
		if !slices.Contains(Windows, ind.Window) {
			return bad("bad window %d (one of 3, 6, 12, 24 months)", ind.Window)
		}
		if !slices.Contains(src.Columns, ind.Column) {
			return bad("unknown column %q of source %s", ind.Column, src.Name)
		}
		if ind.Column == src.IDColumn && ind.Aggregation != AggCount {
			return bad("id column %s of source %s can only be counted", ind.Column, src.Name)
		}
	case ind.Aggregation == AggValue:
		if src.Kind != KindStatic {
			return bad("aggregation value needs a static source, %s is %s", src.Name, src.Kind)
		}
		if ind.Window != 0 {
			return bad("bad window %d (value takes window 0)", ind.Window)
		}
		if !slices.Contains(src.Columns, ind.Column) {
			return bad("unknown column %q of source %s", ind.Column, src.Name)
		}
	case ind.Aggregation == AggGraph:
		if src.Kind != KindRelation {
			return bad("aggregation graph needs a relation source, %s is %s", src.Name, src.Kind)
		}
		if ind.Window != 0 {
			return bad("bad window %d (graph takes window 0)", ind.Window)
		}
		if !slices.Contains(GraphMeasures, ind.Column) {
			return bad("unknown network measure %q (one of %s)", ind.Column, strings.Join(GraphMeasures, ", "))
		}
	default:
		return bad("unknown aggregation %q", ind.Aggregation)
	}
	switch ind.Direction {
	case HigherBetter, HigherWorse, NoDirection:
	default:
		return bad("unknown direction %q (higher_better, higher_worse, none)", ind.Direction)
	}
	switch ind.Sensitivity {
	case Public, Restricted, Confidential:
	default:
		return bad("unknown sensitivity %q (public, restricted, confidential)", ind.Sensitivity)
	}
	return nil
}

// Indicators returns every indicator in catalog order.
func (c *Catalog) Indicators() []*Indicator { return slices.Clone(c.indicators) }

// Indicator returns the indicator with the id, or an error wrapping ErrUnknownIndicator.
func (c *Catalog) Indicator(id string) (*Indicator, error) {
	ind, ok := c.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownIndicator, id)
	}
	return ind, nil
}

// Source returns the raw source with the name.
func (c *Catalog) Source(name string) (*Source, bool) {
	s, ok := c.sources[name]
	return s, ok
}

// Sources returns every source sorted by name.
func (c *Catalog) Sources() []*Source {
	out := make([]*Source, 0, len(c.sources))
	for _, s := range c.sources {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Sets returns every feature set, sorted by name and version.
func (c *Catalog) Sets() []*FeatureSet {
	out := slices.Clone(c.sets)
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// Set returns a feature set. Version 0 means the latest version of the name. With
// version 0 the name may also be a whole reference ("name/vN", see ParseSetRef).
func (c *Catalog) Set(name string, version int) (*FeatureSet, error) {
	if version == 0 {
		if r, err := ParseSetRef(name); err == nil {
			name, version = r.Name, r.Version
		}
	}
	return c.set(name, version)
}

func (c *Catalog) set(name string, version int) (*FeatureSet, error) {
	var best *FeatureSet
	for _, s := range c.sets {
		if s.Name != name {
			continue
		}
		if version == 0 && (best == nil || s.Version > best.Version) || s.Version == version {
			best = s
		}
	}
	if best == nil || (version != 0 && best.Version != version) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSet, SetRef{Name: name, Version: version}.String())
	}
	return best, nil
}

// SetIndicators resolves the indicators of a feature set in the set's order.
func (c *Catalog) SetIndicators(s *FeatureSet) []*Indicator {
	out := make([]*Indicator, len(s.Indicators))
	for i, id := range s.Indicators {
		out[i] = c.byID[id]
	}
	return out
}
