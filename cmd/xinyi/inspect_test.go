package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/access/accesstest"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/creditcode"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/serving"
	"github.com/xinyi-platform/xinyi/serving/screenjobs"
)

// fixedScreening is a screening runner that ranks 40 made-up firms: 4 high (all
// drawn), 36 low at 0.25 (9 drawn).
type fixedScreening struct{ store blob.Store }

func (f fixedScreening) RunScreening(ctx context.Context, _ serving.Principal, task serving.Task, id string, _ func(int, int)) (*serving.ScreenResult, []string, error) {
	res := &serving.ScreenResult{ID: id, Task: task, PolicyVersion: "test", AsOf: time.Date(2025, 1, 31, 0, 0, 0, 0, time.UTC)}
	for i := range 40 {
		c, err := creditcode.New('9', '1', "330604", fmt.Sprintf("MA%06d", i))
		if err != nil {
			return nil, nil, err
		}
		tier, ratio := "low", 0.25
		if i < 4 {
			tier, ratio = "high", 1
		}
		res.Rows = append(res.Rows, serving.ScreenRow{Rank: i + 1, Company: c, Probability: 0.6 - float64(i)*0.01, Tier: tier, SamplingRatio: ratio})
	}
	res.Companies = len(res.Rows)
	infos, err := serving.WriteScreening(ctx, f.store, res)
	if err != nil {
		return nil, nil, err
	}
	res.Rows = nil
	return res, []string{infos[0].Key, infos[1].Key}, nil
}

// TestInspectCommands runs the loop from the command line: a screening finished as
// a durable job, a plan drawn twice with one seed (the same CSV), a result
// recorded, the results and the hit rates printed, and a bank refused.
func TestInspectCommands(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	store := filepath.Join(dir, "data")
	db, _, acc, err := openMeta(ctx, metaFlags{store: &store, dsn: new(string)})
	if err != nil {
		t.Fatal(err)
	}
	regKey, reg := accesstest.User(t, acc, "上虞区市场监管局", access.KindRegulator, "reg", access.RoleRegulator)
	bankKey, _ := accesstest.User(t, acc, "某银行", access.KindBank, "banker", access.RoleBank)
	db.Close()

	bs, err := blob.OpenLocal(store)
	if err != nil {
		t.Fatal(err)
	}
	dsn, err := jobsDSN(store, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ws := jobs.NewWorkers()
	if err := screenjobs.Register(ws, fixedScreening{bs}); err != nil {
		t.Fatal(err)
	}
	q, err := jobs.Open(ctx, jobs.Options{DSN: dsn, Workers: ws, Queues: map[string]int{screenjobs.QueueName: 1}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if err := q.Start(ctx); err != nil {
		t.Fatal(err)
	}
	queue := screenjobs.New(q)
	job, err := queue.EnqueueScreening(ctx, reg, serving.TaskViolation)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		j, err := queue.Screening(ctx, job.ID)
		if err != nil {
			t.Fatal(err)
		}
		if j.State == serving.JobDone {
			break
		}
		if j.State == serving.JobFailed || time.Now().After(deadline) {
			t.Fatalf("screening: %+v", j)
		}
	}

	planRE := regexp.MustCompile(`^plan (\d+) from screening`)
	var ids []string
	var csvs [][]byte
	for i := range 2 {
		file := filepath.Join(dir, fmt.Sprintf("plan%d.csv", i))
		out, errOut, code := run(t, "inspect", "plan", "-store", store, "-key", regKey, "-screening", job.ID, "-inspectors", "张三,李四,王五", "-seed", "7", "-o", file)
		if code != 0 {
			t.Fatalf("inspect plan: %d %s", code, errOut)
		}
		m := planRE.FindStringSubmatch(out)
		if m == nil || !strings.Contains(out, "seed 7: 13 firms (high 4 of 4 at 1, low 9 of 36 at 0.25), 3 inspectors, 2 per firm") {
			t.Fatalf("inspect plan output:\n%s", out)
		}
		ids = append(ids, m[1])
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		csvs = append(csvs, data)
	}
	if ids[0] == ids[1] || !bytes.Equal(csvs[0], csvs[1]) || !bytes.HasPrefix(csvs[0], []byte("\ufeff统一社会信用代码")) {
		t.Errorf("plans %v: the same seed exported different plans:\n%s\n%s", ids, csvs[0], csvs[1])
	}
	lines := strings.Split(string(csvs[0]), "\r\n")
	fields := strings.Split(lines[1], ",")
	col := slices.Index(strings.Split(strings.TrimPrefix(lines[0], "\ufeff"), ","), "检查人员")
	if col < 0 || len(fields) <= col {
		t.Fatalf("plan export without the inspectors' column:\n%s", csvs[0])
	}
	company, team := fields[0], strings.Split(fields[col], "、")

	_, errOut, code := run(t, "inspect", "plan", "-store", store, "-key", bankKey, "-screening", job.ID, "-inspectors", "a,b")
	if code == 0 || !strings.Contains(errOut, "forbidden") {
		t.Errorf("bank draws: %d %s", code, errOut)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	out, errOut, code := run(t, "inspect", "record", "-store", store, "-key", regKey, "-plan", ids[0], "-company", company, "-outcome", "problem",
		"-category", "licence", "-date", today, "-inspector", team[0])
	if code != 0 || !strings.Contains(out, "recorded problem of "+company+" in plan "+ids[0]+" (revision 0") {
		t.Fatalf("inspect record: %d %s %s", code, out, errOut)
	}
	_, errOut, code = run(t, "inspect", "record", "-store", store, "-key", regKey, "-plan", ids[0], "-company", company, "-outcome", "no_problem",
		"-date", today, "-inspector", team[0])
	if code == 0 || !strings.Contains(errOut, "already recorded") {
		t.Errorf("second record: %d %s", code, errOut)
	}
	out, errOut, code = run(t, "inspect", "results", "-store", store, "-key", regKey, "-plan", ids[0])
	if code != 0 || !strings.Contains(out, "1 of 13 firms have a result") || !strings.Contains(out, "licence") {
		t.Errorf("inspect results: %d %s %s", code, out, errOut)
	}
	out, errOut, code = run(t, "inspect", "hit-rate", "-store", store, "-key", regKey)
	if code != 0 || !strings.Contains(out, "2 plans: hit rate 100.0% against a random baseline of -") {
		t.Errorf("inspect hit-rate: %d %s %s", code, out, errOut)
	}
	if out, _, code := run(t, "inspect"); code != 0 || !strings.Contains(out, "hit-rate") {
		t.Errorf("inspect help: %d %s", code, out)
	}
}
