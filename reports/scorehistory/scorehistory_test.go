package scorehistory_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/xinyi-platform/xinyi/reports"
	"github.com/xinyi-platform/xinyi/reports/scorehistory"
	"github.com/xinyi-platform/xinyi/serving"
)

type history struct {
	pts []serving.ScorePoint
	err error
}

func (h history) History(context.Context, string) ([]serving.ScorePoint, error) { return h.pts, h.err }

func TestHistory(t *testing.T) {
	h := scorehistory.New(history{pts: []serving.ScorePoint{{AsOf: "2026-09-30", Rating: "B", Colour: "yellow", Policy: "p2",
		Models: []serving.ModelVersion{{Task: serving.TaskPD, Name: "pd-smb", Version: "3"}, {Task: serving.TaskLimit, Name: "limit", Version: "1"}}}}})
	got, err := h.History(context.Background(), "91330604MA4UJ7K283")
	if err != nil {
		t.Fatal(err)
	}
	want := reports.ScorePoint{AsOf: "2026-09-30", Rating: "B", Colour: "yellow", Policy: "p2", Models: []string{"pd=pd-smb@3", "limit=limit@1"}}
	if len(got) != 1 || got[0].AsOf != want.AsOf || got[0].Rating != want.Rating || got[0].Colour != want.Colour || got[0].Policy != want.Policy ||
		!slices.Equal(got[0].Models, want.Models) {
		t.Errorf("got %+v, want %+v", got, want)
	}
	boom := errors.New("store down")
	if _, err := scorehistory.New(history{err: boom}).History(context.Background(), "x"); !errors.Is(err, boom) {
		t.Errorf("error %v, want %v", err, boom)
	}
}
