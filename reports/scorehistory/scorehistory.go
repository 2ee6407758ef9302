// Package scorehistory adapts the platform's score history (serving/scores, the
// figures GET /v1/companies/{code}/scores answers with) to reports.Scores: the
// rating and colour a credit report states, with their as-of date, models and
// policy version.
package scorehistory

import (
	"context"
	"fmt"

	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/serving"
)

// History is reports.Scores over a serving.ScoreHistory (*scores.Reader).
type History struct {
	h serving.ScoreHistory
}

var _ reports.Scores = History{}

// New wraps h.
func New(h serving.ScoreHistory) History { return History{h: h} }

// History returns code's scored dates, oldest first.
func (a History) History(ctx context.Context, code string) ([]reports.ScorePoint, error) {
	pts, err := a.h.History(ctx, code)
	if err != nil {
		return nil, err
	}
	out := make([]reports.ScorePoint, len(pts))
	for i, p := range pts {
		models := make([]string, len(p.Models))
		for j, m := range p.Models {
			models[j] = fmt.Sprintf("%s=%s@%s", m.Task, m.Name, m.Version)
		}
		out[i] = reports.ScorePoint{AsOf: p.AsOf, Rating: p.Rating, Colour: p.Colour, Models: models, Policy: p.Policy}
	}
	return out, nil
}
