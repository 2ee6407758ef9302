package registry

import (
	"context"
	"fmt"
	"strconv"

	"github.com/xinyi-platform/xinyi/features"
	"github.com/xinyi-platform/xinyi/lab"
)

// FeatureSets lists the feature sets p may see: the built-in ones, the
// shared ones and its institution's own.
func (a *Models) FeatureSets(ctx context.Context, p lab.Principal) ([]lab.FeatureSet, error) {
	ap, err := principal(p)
	if err != nil {
		return nil, err
	}
	defs, err := a.r.FeatureSetDefinitions(ctx, ap)
	if err != nil {
		return nil, mapErr(err)
	}
	out := make([]lab.FeatureSet, 0, len(defs))
	for _, d := range defs {
		out = append(out, convertSet(d, ap.InstitutionID, ap.Institution))
	}
	return out, nil
}

// PublishFeatureSet parses a YAML definition and publishes it as the set's
// next version for p's institution. A definition that does not parse or
// validate is lab.ErrInvalidInput naming what is wrong.
func (a *Models) PublishFeatureSet(ctx context.Context, p lab.Principal, yaml []byte) (lab.FeatureSet, error) {
	ap, err := principal(p)
	if err != nil {
		return lab.FeatureSet{}, err
	}
	d, err := features.DecodeSetDefinition(yaml) // the registry validates it against its catalog
	if err != nil {
		return lab.FeatureSet{}, fmt.Errorf("%w: %w", lab.ErrInvalidInput, err)
	}
	got, err := a.r.PublishFeatureSet(ctx, ap, *d)
	if err != nil {
		return lab.FeatureSet{}, mapErr(err)
	}
	return convertSet(got, ap.InstitutionID, ap.Institution), nil
}

// builtInSetsZH are the Chinese descriptions of the catalog's built-in sets
// (features/catalog/sets.yaml describes them in English).
var builtInSetsZH = map[string]string{
	"pd":        "12个月内违约概率。",
	"violation": "12个月内违法失信概率，用于确定检查力度。",
	"limit":     "预授信额度，回归目标。",
	"full":      "全部指标，供指标浏览和基准比较。",
}

func convertSet(d features.SetDefinition, inst int64, instName string) lab.FeatureSet {
	out := lab.FeatureSet{Ref: d.Ref().String(), Description: d.Description, DescriptionZH: d.Description, BuiltIn: d.BuiltIn, Shared: d.Shared}
	if zh, ok := builtInSetsZH[d.Name]; ok && d.BuiltIn {
		out.DescriptionZH = zh
	}
	if !d.BuiltIn {
		out.Owner = "#" + strconv.FormatInt(d.Owner, 10)
		if d.Owner == inst {
			out.Owner = instName
		}
	}
	for _, f := range d.Features {
		sf := lab.SetFeature{Name: f.Column(), Request: f.Request(), Type: f.Type, Unit: f.Unit, Categories: f.Categories, Zh: f.Zh, En: f.En}
		if f.Request() && (f.Min != nil || f.Max != nil) {
			lo, hi := "−∞", "+∞"
			if f.Min != nil {
				lo = strconv.FormatFloat(*f.Min, 'g', -1, 64)
			}
			if f.Max != nil {
				hi = strconv.FormatFloat(*f.Max, 'g', -1, 64)
			}
			sf.Range = lo + " – " + hi
		}
		out.Features = append(out.Features, sf)
	}
	return out
}
