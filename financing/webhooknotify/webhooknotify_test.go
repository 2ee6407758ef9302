package webhooknotify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"github.com/xinyi-platform/xinyi/financing"
	"github.com/xinyi-platform/xinyi/financing/webhooknotify"
	"github.com/xinyi-platform/xinyi/internal/jobs"
	"github.com/xinyi-platform/xinyi/internal/metadb/metadbtest"
	"github.com/xinyi-platform/xinyi/internal/webhooks"
)

func TestNotify(t *testing.T) {
	ctx := context.Background()
	q, err := jobs.Open(ctx, jobs.Options{DSN: "sqlite://" + filepath.Join(t.TempDir(), "jobs.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	eps := map[int64][]int64{7: {3, 4}}
	n := webhooknotify.New(q, func(_ context.Context, inst int64) ([]int64, error) { return eps[inst], nil })
	due := time.Date(2028, 1, 15, 0, 0, 0, 0, time.UTC)
	for _, x := range []financing.Notice{
		{Kind: financing.NoticeRenewal, Institution: 7, Company: "91350100M000100Y43", LoanID: 1, Due: due, Assessment: &financing.Assessment{Rating: "A"}},
		{Kind: financing.NoticeRenewal, Institution: 0, Company: "91350100M000100Y43", LoanID: 1, Due: due},
		{Kind: financing.NoticeUnanswered, Institution: 8, Company: "91350100M000100Y43", RequestID: 2},
	} {
		if err := n.Notify(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	got, err := q.List(ctx, jobs.ListOptions{Kinds: []string{webhooks.Kind}})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d deliveries, want 2 (the bank's two endpoints)", len(got))
	}
	seen := map[int64]bool{}
	for _, j := range got {
		var a webhooks.Args
		if err := json.Unmarshal(j.Args, &a); err != nil {
			t.Fatal(err)
		}
		var body financing.Notice
		if err := json.Unmarshal(a.Data, &body); err != nil {
			t.Fatal(err)
		}
		if a.Type != financing.NoticeRenewal || body.LoanID != 1 || body.Assessment == nil || body.Assessment.Rating != "A" {
			t.Fatalf("delivery %+v body %+v", a, body)
		}
		seen[a.Endpoint] = true
	}
	if !seen[3] || !seen[4] {
		t.Fatalf("endpoints %v, want 3 and 4", seen)
	}
}

func TestInstitutionEndpoints(t *testing.T) {
	ctx := context.Background()
	db := metadbtest.SQLite(t)
	eps, err := webhooks.OpenEndpoints(ctx, db, webhooks.Guard{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, InsecureHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for range 3 {
		ep, _, err := eps.Create(ctx, 7, "http://127.0.0.1:9/hooks", "financing")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ep.ID)
	}
	if _, _, err := eps.Create(ctx, 8, "http://127.0.0.1:9/other", "another bank"); err != nil {
		t.Fatal(err)
	}
	if err := eps.Stop(ctx, 7, ids[1]); err != nil {
		t.Fatal(err)
	}
	got, err := webhooknotify.InstitutionEndpoints(eps)(ctx, 7)
	if err != nil {
		t.Fatal(err)
	}
	if want := []int64{ids[0], ids[2]}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("endpoints %v, want %v (the stopped one left out, the other bank's never)", got, want)
	}
}
