package inspection

import (
	"context"
	"crypto/rand"
	"embed"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xinyi-platform/xinyi/datasets"
	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/blob"
	"github.com/xinyi-platform/xinyi/internal/metadb"
	"github.com/xinyi-platform/xinyi/serving"
)

// Errors of the package; invalid input wraps serving.ErrInvalidInput and a
// refusal of the caller's role serving.ErrForbidden.
var (
	// ErrUnknownPlan: no plan has the id, or it belongs to another institution.
	ErrUnknownPlan = errors.New("inspection: unknown plan")
	// ErrUnknownScreening: no screening job has the id, or it belongs to another
	// institution.
	ErrUnknownScreening = errors.New("inspection: unknown screening")
	// ErrScreeningNotDone: the screening is still running or failed.
	ErrScreeningNotDone = errors.New("inspection: screening not finished")
	// ErrNotInPlan: a result for a firm the plan did not draw.
	ErrNotInPlan = errors.New("inspection: firm not in the plan")
	// ErrAlreadyRecorded: the firm's result is recorded; change it only with an
	// explicit correction.
	ErrAlreadyRecorded = errors.New("inspection: result already recorded")
)

// Category is a kind of problem an inspection finds.
type Category struct {
	ID     string `json:"id"`
	NameZH string `json:"name_zh"`
	NameEN string `json:"name_en"`
}

// Categories are the problem categories a result may name: the main areas of a
// market-supervision random check.
var Categories = []Category{
	{"licence", "证照与登记", "licensing and registration (unlicensed, out of scope, false registration)"},
	{"disclosure", "信息公示", "annual report and public disclosure"},
	{"product_quality", "产品质量", "product quality and standards"},
	{"food_safety", "食品安全", "food safety"},
	{"pricing", "价格与收费", "pricing and fees"},
	{"advertising", "广告与宣传", "advertising and false publicity"},
	{"equipment_safety", "特种设备安全", "special equipment safety"},
	{"other", "其他", "other"},
}

// Outcomes a result may have (datasets.Inspection*).
var Outcomes = []string{datasets.InspectionNoProblem, datasets.InspectionProblem, datasets.InspectionRectify}

// Screenings finds a screening job by id, whoever asks; *screenjobs.Queue
// implements it. Errors wrap serving.ErrUnknownJob for an unknown id.
type Screenings interface {
	Screening(ctx context.Context, id string) (serving.Job, error)
}

// Authorizer decides and audits refusals (internal/access through serving/access);
// serving.Authorizer satisfies it.
type Authorizer interface {
	Authorize(ctx context.Context, p serving.Principal, action access.Action, res access.Resource) error
}

// Names gives a company's registration record (its name); *datasets.Directory
// implements it.
type Names interface {
	Company(code string) (datasets.CompanyRow, bool)
}

// Options configure a Service. DB and Store are required.
type Options struct {
	DB *metadb.DB
	// Store holds the screenings' rows, the raw inspection source written for each
	// result, and the business registry read for names.
	Store blob.Store
	// Screenings finds screenings to draw from; nil: Draw is unavailable.
	Screenings Screenings
	// Authorizer decides every request and audits refusals. Nil: the rules of
	// internal/access are applied by Decide and refusals are audited into Audit.
	Authorizer Authorizer
	// Audit records draws, results and the refusals this package decides itself
	// (a firm not in the plan, a second result without a correction). Nil: nothing
	// is recorded (tests only).
	Audit *audit.Log
	// Names gives company names for exports. Nil: the registry is read from Store
	// as of the export's day.
	Names Names
	// InspectorsPerFirm is the team size of a draw when DrawOptions leaves it zero.
	// Default 2 (two law-enforcement officers per on-site check).
	InspectorsPerFirm int
	// Now is the clock; arrival dates are its UTC day. Default time.Now.
	Now func() time.Time
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// EnsureDefaults fills zero fields with their defaults.
func (o *Options) EnsureDefaults() {
	if o.InspectorsPerFirm <= 0 {
		o.InspectorsPerFirm = 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Service draws plans and records results.
type Service struct{ opts Options }

//go:embed migrations/*.sql
var migrationFS embed.FS

// Migrations are the schema of the inspection tables.
func Migrations() ([]metadb.Migration, error) {
	return metadb.LoadMigrations(migrationFS, "migrations")
}

// Open migrates the inspection tables and returns the service.
func Open(ctx context.Context, opts Options) (*Service, error) {
	if opts.DB == nil || opts.Store == nil {
		return nil, fmt.Errorf("%w: inspection needs a metadata database and a store", serving.ErrInvalidInput)
	}
	opts.EnsureDefaults()
	ms, err := Migrations()
	if err != nil {
		return nil, err
	}
	if err := opts.DB.Migrate(ctx, "inspection", ms); err != nil {
		return nil, fmt.Errorf("inspection: migrate: %w", err)
	}
	return &Service{opts: opts}, nil
}

// Plan is a drawn inspection plan.
type Plan struct {
	ID            int64     `json:"id"`
	Screening     string    `json:"screening_id"`
	Task          string    `json:"task"`
	PolicyVersion string    `json:"policy_version"`
	AsOf          string    `json:"screening_as_of"`
	InstitutionID int64     `json:"institution_id"`
	Institution   string    `json:"institution"`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	// Seed reproduces the draw: the same screening, inspectors, team size and seed
	// draw the same plan.
	Seed              uint64     `json:"seed"`
	InspectorsPerFirm int        `json:"inspectors_per_firm"`
	Inspectors        []string   `json:"inspectors"`
	Tiers             []TierDraw `json:"tiers"`
	Items             []Item     `json:"items"`
}

// DrawOptions are the choices of a draw.
type DrawOptions struct {
	// Inspectors to assign (names or staff numbers). Required, distinct.
	Inspectors []string `json:"inspectors"`
	// InspectorsPerFirm is the team size. Default Options.InspectorsPerFirm.
	InspectorsPerFirm int `json:"inspectors_per_firm,omitempty"`
	// Seed of the draw, at most MaxSeed; nil draws one at random (and records it).
	Seed *uint64 `json:"seed,omitempty"`
}

// Result is one recorded revision of an inspection's result.
type Result struct {
	Plan      int64  `json:"plan_id"`
	Company   string `json:"company_code"`
	Revision  int    `json:"revision"`
	Outcome   string `json:"outcome"`
	Category  string `json:"category,omitempty"`
	Note      string `json:"note,omitempty"`
	Date      string `json:"date"`
	Inspector string `json:"inspector"`
	// RecordedBy and RecordedAt: who recorded it, and when (its arrival date is
	// RecordedAt's UTC day).
	RecordedBy string    `json:"recorded_by"`
	RecordedAt time.Time `json:"recorded_at"`
	Arrival    string    `json:"arrival_date"`
	// Key is the raw object of the result.
	Key string `json:"raw_key"`
}

// ResultInput is a result to record.
type ResultInput struct {
	Company string `json:"company_code"`
	// Outcome is one of Outcomes.
	Outcome string `json:"outcome"`
	// Category is the ID of one of Categories: required when a problem was found,
	// optional for a rectification, empty for no problem.
	Category string `json:"category,omitempty"`
	// Date of the inspection, YYYY-MM-DD: not before the plan was drawn, not after
	// today.
	Date string `json:"date"`
	// Inspector who inspected: one of the firm's assigned inspectors.
	Inspector string `json:"inspector"`
	Note      string `json:"note,omitempty"`
	// Correction replaces a recorded result with a new revision; without it a
	// second result for the firm is refused.
	Correction bool `json:"correction,omitempty"`
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", serving.ErrInvalidInput, fmt.Sprintf(format, args...))
}

// authorize applies action to res for p. A refusal because res is another
// institution's is answered as hidden (the caller's hide error), a refusal of p's
// role as serving.ErrForbidden; both are audited.
func (s *Service) authorize(ctx context.Context, p serving.Principal, action access.Action, res access.Resource, hide error) error {
	var err error
	if s.opts.Authorizer != nil {
		err = s.opts.Authorizer.Authorize(ctx, p, action, res)
	} else {
		_, err = access.Decide(p, action, res)
		if err != nil {
			err = s.refused(ctx, p, res, err)
		}
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, access.ErrUnavailable):
		return fmt.Errorf("%w: %w", serving.ErrUnavailable, err)
	case !errors.Is(err, access.ErrForbidden):
		return fmt.Errorf("%w: authorize: %w", serving.ErrUnavailable, err)
	}
	own := res
	own.Owner = p.InstitutionID
	if _, roleErr := access.Decide(p, action, own); roleErr == nil && hide != nil {
		return fmt.Errorf("%w: %s", hide, res.ID)
	}
	return fmt.Errorf("%w: %w", serving.ErrForbidden, err)
}

// refused records a refusal this package decided and returns err.
func (s *Service) refused(ctx context.Context, p serving.Principal, res access.Resource, err error) error {
	if s.opts.Audit == nil || access.Audited(err) {
		return err
	}
	op := res.Operation
	if _, aerr := s.opts.Audit.Append(context.WithoutCancel(ctx), audit.Entry{Actor: p.Actor(), Action: op, Subject: res.Subject(),
		Outcome: audit.OutcomeRefused, Reason: err.Error(), After: map[string]any{"institution": p.Institution}}); aerr != nil {
		return fmt.Errorf("%w: audit of a refusal: %w (refusal: %w)", serving.ErrUnavailable, aerr, err)
	}
	return access.MarkAudited(err)
}

func (s *Service) newSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return binary.LittleEndian.Uint64(b[:]) & MaxSeed
}

// Draw draws a plan from screening id for p: a user with the regulator role at the
// regulator that owns the screening. The draw and its seed are audited.
func (s *Service) Draw(ctx context.Context, p serving.Principal, id string, o DrawOptions) (*Plan, error) {
	res := access.Resource{Kind: "screening", ID: id, Operation: "inspection.plan.draw"}
	if s.opts.Screenings == nil {
		return nil, fmt.Errorf("%w: no screening jobs are configured", serving.ErrUnavailable)
	}
	// The role first, so a bank is refused as such without learning of the screening.
	if _, err := access.Decide(p, access.ActionInspect, access.Resource{Owner: p.InstitutionID}); err != nil {
		return nil, s.authorize(ctx, p, access.ActionInspect, res, nil)
	}
	job, err := s.opts.Screenings.Screening(ctx, id)
	if errors.Is(err, serving.ErrUnknownJob) {
		return nil, fmt.Errorf("%w: %s", ErrUnknownScreening, id)
	}
	if err != nil {
		return nil, err
	}
	res.Owner = job.InstitutionID
	if err := s.authorize(ctx, p, access.ActionInspect, res, ErrUnknownScreening); err != nil {
		return nil, err
	}
	if job.State != serving.JobDone || job.Result == nil {
		return nil, fmt.Errorf("%w: screening %s is %s", ErrScreeningNotDone, id, job.State)
	}
	per := o.InspectorsPerFirm
	if per == 0 {
		per = s.opts.InspectorsPerFirm
	}
	if per < 0 {
		return nil, invalid("inspectors_per_firm %d: want at least 1", per)
	}
	staff, err := cleanInspectors(o.Inspectors)
	if err != nil {
		return nil, err
	}
	if len(staff) < per {
		return nil, invalid("%d inspectors cannot make teams of %d: give at least %d", len(staff), per, per)
	}
	seed := s.newSeed()
	if o.Seed != nil {
		if *o.Seed > MaxSeed {
			return nil, invalid("seed %d is above the largest seed %d (2^53-1)", *o.Seed, uint64(MaxSeed))
		}
		seed = *o.Seed
	}
	rows := job.Result.Rows
	if rows == nil {
		if rows, err = serving.ReadScreening(ctx, s.opts.Store, id); err != nil {
			return nil, fmt.Errorf("%w: %v", serving.ErrUnavailable, err)
		}
	}
	tiers, items, err := draw(rows, staff, per, seed)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	plan := &Plan{Screening: id, Task: string(job.Result.Task), PolicyVersion: job.Result.PolicyVersion, AsOf: job.Result.AsOf.Format(time.DateOnly),
		InstitutionID: job.InstitutionID, Institution: p.Institution, CreatedBy: p.Actor(), CreatedAt: now, Seed: seed,
		InspectorsPerFirm: per, Inspectors: staff, Tiers: tiers, Items: items}
	if err := s.insertPlan(ctx, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

func cleanInspectors(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, name := range in {
		name = strings.TrimSpace(name)
		if name == "" {
			continue
		}
		if seen[name] {
			return nil, invalid("inspector %q is listed twice", name)
		}
		seen[name] = true
		out = append(out, name)
	}
	if len(out) == 0 {
		return nil, invalid("no inspectors: give the inspectors to assign")
	}
	return out, nil
}

func (s *Service) insertPlan(ctx context.Context, plan *Plan) error {
	staff, _ := json.Marshal(plan.Inspectors) // strings always marshal
	tiers, _ := json.Marshal(plan.Tiers)
	err := s.opts.DB.Tx(ctx, func(tx *metadb.Tx) error {
		id, err := tx.InsertID(ctx, `INSERT INTO inspection_plans (screening_id, task, policy_version, screening_as_of, institution_id, institution,
			created_by, created_at_ns, seed, inspectors_per_firm, inspectors, tiers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			plan.Screening, plan.Task, plan.PolicyVersion, plan.AsOf, plan.InstitutionID, plan.Institution, plan.CreatedBy,
			plan.CreatedAt.UnixNano(), int64(plan.Seed), plan.InspectorsPerFirm, string(staff), string(tiers))
		if err != nil {
			return err
		}
		plan.ID = id
		// Many rows a statement (a region's plan has tens of thousands of firms), in
		// three statement sizes so the prepared-statement cache keeps three.
		for lo := 0; lo < len(plan.Items); {
			size := 1
			for _, n := range []int{500, 50} {
				if len(plan.Items)-lo >= n {
					size = n
					break
				}
			}
			hi := lo + size
			var q strings.Builder
			q.WriteString("INSERT INTO inspection_items (plan_id, company_code, position, tier, probability, screening_rank, inspectors) VALUES ")
			args := make([]any, 0, 7*(hi-lo))
			for i := lo; i < hi; i++ {
				it := plan.Items[i]
				team, _ := json.Marshal(it.Inspectors)
				if i > lo {
					q.WriteString(", ")
				}
				q.WriteString("(?, ?, ?, ?, ?, ?, ?)")
				args = append(args, id, it.Company, i, it.Tier, it.Probability, it.Rank, string(team))
			}
			if _, err := tx.Exec(ctx, q.String(), args...); err != nil {
				return err
			}
			lo = hi
		}
		if s.opts.Audit == nil {
			return nil
		}
		_, err = s.opts.Audit.AppendTx(ctx, tx, audit.Entry{Actor: plan.CreatedBy, Action: "inspection.plan.draw", Subject: "plan:" + strconv.FormatInt(id, 10),
			After: map[string]any{"screening_id": plan.Screening, "seed": plan.Seed, "tiers": plan.Tiers, "inspectors": plan.Inspectors,
				"inspectors_per_firm": plan.InspectorsPerFirm, "firms": len(plan.Items)}})
		return err
	})
	if err != nil {
		return fmt.Errorf("%w: store plan: %w", serving.ErrUnavailable, err)
	}
	return nil
}

// Get returns plan id with the result in force of each firm, for p: the owner's
// regulators or a platform administrator.
func (s *Service) Get(ctx context.Context, p serving.Principal, id int64) (*Plan, error) {
	plan, err := s.loadPlan(ctx, id)
	if err != nil {
		return nil, err
	}
	res := access.Resource{Kind: "plan", ID: strconv.FormatInt(id, 10), Owner: plan.InstitutionID, Operation: "inspection.plan.view"}
	if err := s.authorize(ctx, p, access.ActionViewInspections, res, ErrUnknownPlan); err != nil {
		return nil, err
	}
	if err := s.loadItems(ctx, plan); err != nil {
		return nil, err
	}
	return plan, nil
}

func (s *Service) loadPlan(ctx context.Context, id int64) (*Plan, error) {
	var plan Plan
	var created, seed int64
	var staff, tiers string
	err := metadb.ScanOne(s.opts.DB.QueryRow(ctx, `SELECT id, screening_id, task, policy_version, screening_as_of, institution_id, institution,
		created_by, created_at_ns, seed, inspectors_per_firm, inspectors, tiers FROM inspection_plans WHERE id = ?`, id),
		&plan.ID, &plan.Screening, &plan.Task, &plan.PolicyVersion, &plan.AsOf, &plan.InstitutionID, &plan.Institution,
		&plan.CreatedBy, &created, &seed, &plan.InspectorsPerFirm, &staff, &tiers)
	if errors.Is(err, metadb.ErrNotFound) {
		return nil, fmt.Errorf("%w: %d", ErrUnknownPlan, id)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: read plan %d: %w", serving.ErrUnavailable, id, err)
	}
	plan.CreatedAt, plan.Seed = time.Unix(0, created).UTC(), uint64(seed)
	if err := json.Unmarshal([]byte(staff), &plan.Inspectors); err != nil {
		return nil, fmt.Errorf("plan %d: inspectors: %w", id, err)
	}
	if err := json.Unmarshal([]byte(tiers), &plan.Tiers); err != nil {
		return nil, fmt.Errorf("plan %d: tiers: %w", id, err)
	}
	return &plan, nil
}

// loadItems reads the plan's firms and the result in force of each.
func (s *Service) loadItems(ctx context.Context, plan *Plan) error {
	rows, err := s.opts.DB.Query(ctx, `SELECT company_code, tier, probability, screening_rank, inspectors FROM inspection_items
		WHERE plan_id = ? ORDER BY position`, plan.ID)
	if err != nil {
		return fmt.Errorf("%w: read plan %d: %w", serving.ErrUnavailable, plan.ID, err)
	}
	defer rows.Close()
	plan.Items = nil
	for rows.Next() {
		var it Item
		var team string
		if err := rows.Scan(&it.Company, &it.Tier, &it.Probability, &it.Rank, &team); err != nil {
			return fmt.Errorf("%w: read plan %d: %w", serving.ErrUnavailable, plan.ID, err)
		}
		if err := json.Unmarshal([]byte(team), &it.Inspectors); err != nil {
			return fmt.Errorf("plan %d: inspectors of %s: %w", plan.ID, it.Company, err)
		}
		plan.Items = append(plan.Items, it)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("%w: read plan %d: %w", serving.ErrUnavailable, plan.ID, err)
	}
	results, err := s.results(ctx, "r.plan_id = ?", plan.ID)
	if err != nil {
		return err
	}
	for i := range plan.Items {
		if r, ok := results[key{plan.ID, plan.Items[i].Company}]; ok {
			plan.Items[i].Result = &r.Result
		}
	}
	return nil
}

type key struct {
	plan    int64
	company string
}

// current is the result in force of one firm of one plan, with the firm's tier.
type current struct {
	Result
	tier string
}

// results returns the result in force (highest revision) per plan and firm among
// the results matching where.
func (s *Service) results(ctx context.Context, where string, args ...any) (map[key]current, error) {
	rows, err := s.opts.DB.Query(ctx, `SELECT r.plan_id, r.company_code, r.revision, r.outcome, r.category, r.note, r.inspected_on, r.inspector,
		r.recorded_by, r.recorded_at_ns, r.arrival, r.raw_key, i.tier FROM inspection_results r
		JOIN inspection_items i ON i.plan_id = r.plan_id AND i.company_code = r.company_code WHERE `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("%w: read results: %w", serving.ErrUnavailable, err)
	}
	defer rows.Close()
	out := map[key]current{}
	for rows.Next() {
		var c current
		var on, arrival int32
		var at int64
		if err := rows.Scan(&c.Plan, &c.Company, &c.Revision, &c.Outcome, &c.Category, &c.Note, &on, &c.Inspector,
			&c.RecordedBy, &at, &arrival, &c.Key, &c.tier); err != nil {
			return nil, fmt.Errorf("%w: read results: %w", serving.ErrUnavailable, err)
		}
		c.Date, c.Arrival, c.RecordedAt = datasets.Day(on).String(), datasets.Day(arrival).String(), time.Unix(0, at).UTC()
		k := key{c.Plan, c.Company}
		if old, ok := out[k]; !ok || c.Revision > old.Revision {
			out[k] = c
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%w: read results: %w", serving.ErrUnavailable, err)
	}
	return out, nil
}

// categoryByID returns the category with id.
func categoryByID(id string) (Category, bool) {
	i := slices.IndexFunc(Categories, func(c Category) bool { return c.ID == id })
	if i < 0 {
		return Category{}, false
	}
	return Categories[i], true
}

func categoryIDs() string {
	ids := make([]string, len(Categories))
	for i, c := range Categories {
		ids[i] = c.ID
	}
	return strings.Join(ids, ", ")
}
