package inspection

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/policy"
)

// CSVHeader is the header row of a plan's CSV export.
var CSVHeader = []string{"统一社会信用代码", "企业名称", "住所", "所属区县", "行业", "风险层级", "违法概率", "检查人员", "检查日期", "检查结果", "问题类别"}

// tierZH names a tier in Chinese.
func tierZH(t string) string {
	switch policy.Tier(t) {
	case policy.High:
		return "高风险"
	case policy.Medium:
		return "中风险"
	case policy.Low:
		return "低风险"
	}
	return t
}

// outcomeZH names an outcome in Chinese.
func outcomeZH(o string) string {
	switch o {
	case datasets.InspectionNoProblem:
		return "未发现问题"
	case datasets.InspectionProblem:
		return "发现问题"
	case datasets.InspectionRectify:
		return "责令整改"
	}
	return o
}

// Export returns plan id for p as format "csv" (UTF-8 with a BOM, Chinese headers
// for Excel: CSVHeader, the firms named and placed with their registered
// addresses; a code of digits only is written ="…" so Excel keeps it as
// text) or "json" (the Plan), with the content type.
func (s *Service) Export(ctx context.Context, p serving.Principal, id int64, format string) ([]byte, string, error) {
	if format != "csv" && format != "json" {
		return nil, "", invalid("format %q: want csv or json", format)
	}
	plan, err := s.Get(ctx, p, id)
	if err != nil {
		return nil, "", err
	}
	s.name(ctx, plan)
	if format == "json" {
		b, err := json.MarshalIndent(plan, "", "  ")
		if err != nil {
			return nil, "", fmt.Errorf("plan %d: json: %w", id, err)
		}
		return append(b, '\n'), "application/json", nil
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	_ = w.Write(CSVHeader) // a bytes.Buffer does not fail
	for _, it := range plan.Items {
		code := it.Company
		if strings.Trim(code, "0123456789") == "" {
			code = `="` + code + `"`
		}
		row := []string{code, it.Name, it.Address, it.District, it.Industry, tierZH(it.Tier), strconv.FormatFloat(it.Probability*100, 'f', 2, 64) + "%",
			strings.Join(it.Inspectors, "、"), "", "", ""}
		if r := it.Result; r != nil {
			row[8], row[9] = r.Date, outcomeZH(r.Outcome)
			if c, ok := categoryByID(r.Category); ok {
				row[10] = c.NameZH
			}
		}
		_ = w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return nil, "", fmt.Errorf("plan %d: csv: %w", id, err)
	}
	return buf.Bytes(), "text/csv; charset=utf-8", nil
}

// name fills the firms' names, registered addresses, districts and industries
// from the business registry, as far as it has them.
func (s *Service) name(ctx context.Context, plan *Plan) {
	names := s.opts.Names
	if names == nil {
		d, err := datasets.LoadDirectory(ctx, s.opts.Store, datasets.DayOf(s.opts.Now()))
		if errors.Is(err, datasets.ErrSourceMissing) {
			return // a store without the business registry: codes only
		}
		if err != nil {
			s.opts.Logger.WarnContext(ctx, "plan export without names: the business registry does not load", "plan", plan.ID, "err", err)
			return
		}
		names = d
	}
	for i := range plan.Items {
		if c, ok := names.Company(plan.Items[i].Company); ok {
			it := &plan.Items[i]
			it.Name, it.Address, it.District = c.Name, c.Address, c.DistrictName
			if c.Industry != "" {
				it.Industry = strings.TrimSpace(c.Industry + " " + datasets.IndustryName(c.Industry))
			}
		}
	}
}
