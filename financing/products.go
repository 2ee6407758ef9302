package financing

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"

	"github.com/expr-lang/expr/vm"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/internal/audit"
	"github.com/xinyi-platform/xinyi/internal/metadb"
)

// MaxAmount bounds every amount (元): 10 billion.
const MaxAmount = 1e10

// MaxTerm bounds every term (months).
const MaxTerm = 360

// Product is a bank's loan product.
type Product struct {
	ID       int64   `json:"id"`
	BankID   int64   `json:"bank_id"`
	Name     string  `json:"name"`
	Rule     string  `json:"rule"`
	RuleVer  int     `json:"rule_version"`
	LimitCap float64 `json:"limit_cap"`
	MaxTerm  int     `json:"max_term"`
	Rate     float64 `json:"rate"`
	// AutoApprove answers matching requests at once, up to AutoCap, when the
	// guarantor (if any) admits the company too.
	AutoApprove bool    `json:"auto_approve"`
	AutoCap     float64 `json:"auto_cap"`
	// GuarantorID is the guarantee institution taking GuarantorShare (0..1) of
	// each loan and loss; 0 for none.
	GuarantorID    int64   `json:"guarantor_id,omitempty"`
	GuarantorShare float64 `json:"guarantor_share,omitempty"`
	CreatedBy      string  `json:"created_by"`

	rule *Rule
}

// Eligible reports whether the product admits env: its rule, its limit cap and
// its longest term.
func (p *Product) Eligible(env *Env, m *vm.VM) (bool, error) {
	if env.Amount > p.LimitCap || env.Term > p.MaxTerm {
		return false, nil
	}
	return p.rule.Eval(env, m)
}

// ProductInput defines a product. AutoApprove is not applied at once: it becomes
// a proposal that another approver of the bank approves.
type ProductInput struct {
	Name           string  `json:"name"`
	Rule           string  `json:"rule"`
	LimitCap       float64 `json:"limit_cap"`
	MaxTerm        int     `json:"max_term"`
	Rate           float64 `json:"rate"`
	GuarantorID    int64   `json:"guarantor_id,omitempty"`
	GuarantorShare float64 `json:"guarantor_share,omitempty"`
	AutoApprove    bool    `json:"auto_approve,omitempty"`
	AutoCap        float64 `json:"auto_cap,omitempty"`
}

var productNameRE = regexp.MustCompile(`^[\p{L}\p{N}][\p{L}\p{N} ._()·-]{0,63}$`)

func (in ProductInput) check() error {
	if !productNameRE.MatchString(in.Name) {
		return fmt.Errorf("%w: product name %q must be 1-64 letters, digits, spaces or ._()·-", ErrInvalid, in.Name)
	}
	if err := finite("limit_cap", in.LimitCap, 1, MaxAmount); err != nil {
		return err
	}
	if in.MaxTerm < 1 || in.MaxTerm > MaxTerm {
		return fmt.Errorf("%w: max_term %d out of range [1, %d]", ErrInvalid, in.MaxTerm, MaxTerm)
	}
	if err := finite("rate", in.Rate, 0, 1); err != nil {
		return err
	}
	if in.GuarantorID < 0 || (in.GuarantorID == 0) != (in.GuarantorShare == 0) {
		return fmt.Errorf("%w: a guarantor needs its share and a share its guarantor", ErrInvalid)
	}
	if err := finite("guarantor_share", in.GuarantorShare, 0, 1); err != nil {
		return err
	}
	if in.AutoApprove {
		if err := finite("auto_cap", in.AutoCap, 1, in.LimitCap); err != nil {
			return err
		}
	}
	return nil
}

// ProductChange changes a product; nil fields stay. Switching auto-approval on,
// and any change of an auto-approving product, is a proposal (four-eyes).
type ProductChange struct {
	Rule        *string  `json:"rule,omitempty"`
	LimitCap    *float64 `json:"limit_cap,omitempty"`
	MaxTerm     *int     `json:"max_term,omitempty"`
	Rate        *float64 `json:"rate,omitempty"`
	AutoApprove *bool    `json:"auto_approve,omitempty"`
	AutoCap     *float64 `json:"auto_cap,omitempty"`
}

func (c ProductChange) apply(p Product) (ProductInput, bool) {
	in := ProductInput{Name: p.Name, Rule: p.Rule, LimitCap: p.LimitCap, MaxTerm: p.MaxTerm, Rate: p.Rate,
		GuarantorID: p.GuarantorID, GuarantorShare: p.GuarantorShare, AutoApprove: p.AutoApprove, AutoCap: p.AutoCap}
	ruleChanged := false
	if c.Rule != nil {
		ruleChanged = *c.Rule != p.Rule
		in.Rule = *c.Rule
	}
	if c.LimitCap != nil {
		in.LimitCap = *c.LimitCap
	}
	if c.MaxTerm != nil {
		in.MaxTerm = *c.MaxTerm
	}
	if c.Rate != nil {
		in.Rate = *c.Rate
	}
	if c.AutoApprove != nil {
		in.AutoApprove = *c.AutoApprove
	}
	if c.AutoCap != nil {
		in.AutoCap = *c.AutoCap
	}
	return in, ruleChanged
}

// needsApproval: switching auto-approval on, or changing what an auto-approving
// product decides (rule, caps, term). Switching it off and changing the rate of
// a product without auto-approval apply at once.
func (c ProductChange) needsApproval(p Product) bool {
	if c.AutoApprove != nil && *c.AutoApprove && !p.AutoApprove {
		return true
	}
	if p.AutoApprove && (c.AutoApprove == nil || *c.AutoApprove) {
		return c.Rule != nil || c.LimitCap != nil || c.MaxTerm != nil || c.AutoCap != nil
	}
	return false
}

// Proposal is a product change waiting for a second person of the bank.
type Proposal struct {
	ID        int64         `json:"id"`
	ProductID int64         `json:"product_id"`
	BankID    int64         `json:"bank_id"`
	Change    ProductChange `json:"change"`
	Proposer  string        `json:"proposer"`
	Status    string        `json:"status"` // pending, approved
	DecidedBy string        `json:"decided_by,omitempty"`
}

func productSubject(id int64) string { return "financing.product:" + strconv.FormatInt(id, 10) }

// CreateProduct defines a product of the principal's bank. When in.AutoApprove is
// set the product is created without it and the switch is returned as a proposal.
func (s *Store) CreateProduct(ctx context.Context, p access.Principal, in ProductInput) (Product, *Proposal, error) {
	res := access.Resource{Kind: "financing.product", ID: in.Name, Owner: p.InstitutionID, Operation: "financing.product.create"}
	if err := s.allow(ctx, p, access.ActionFinancingBank, res); err != nil {
		return Product{}, nil, err
	}
	if err := in.check(); err != nil {
		return Product{}, nil, err
	}
	r, err := s.rule(in.Rule)
	if err != nil {
		return Product{}, nil, err
	}
	auto, cap := in.AutoApprove, in.AutoCap
	pr := Product{BankID: p.InstitutionID, Name: in.Name, Rule: in.Rule, RuleVer: 1, LimitCap: in.LimitCap, MaxTerm: in.MaxTerm,
		Rate: in.Rate, GuarantorID: in.GuarantorID, GuarantorShare: in.GuarantorShare, CreatedBy: p.Actor(), rule: r}
	now := s.now().UnixNano()
	e := &audit.Entry{Actor: p.Actor(), Action: "financing.product.create"}
	err = s.change(ctx, e, func(tx *metadb.Tx) (any, error) {
		id, err := tx.InsertID(ctx, `INSERT INTO financing_products (bank_id, name, rule, rule_version, limit_cap, max_term, rate,
			guarantor_id, guarantor_share, created_by, created_at_ns, updated_at_ns) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
			pr.BankID, pr.Name, pr.Rule, pr.LimitCap, pr.MaxTerm, pr.Rate, pr.GuarantorID, pr.GuarantorShare, pr.CreatedBy, now, now)
		if err != nil {
			if metadb.IsUniqueViolation(err) {
				return nil, fmt.Errorf("%w: the bank has a product named %q", ErrState, pr.Name)
			}
			return nil, err
		}
		pr.ID = id
		e.Subject = productSubject(id)
		return pr, nil
	})
	if err != nil {
		return Product{}, nil, fmt.Errorf("financing: create product: %w", err)
	}
	if !auto {
		return pr, nil, nil
	}
	on := true
	prop, err := s.propose(ctx, p, pr, ProductChange{AutoApprove: &on, AutoCap: &cap})
	return pr, prop, err
}

// ChangeProduct changes a product of the principal's bank: at once, or as a
// proposal (returned, with the product unchanged) when it needs a second person.
func (s *Store) ChangeProduct(ctx context.Context, p access.Principal, id int64, c ProductChange) (Product, *Proposal, error) {
	pr, err := s.Product(ctx, id)
	if err != nil {
		return Product{}, nil, err
	}
	res := access.Resource{Kind: "financing.product", ID: strconv.FormatInt(id, 10), Owner: pr.BankID, Operation: "financing.product.change"}
	if err := s.allow(ctx, p, access.ActionFinancingBank, res); err != nil {
		return Product{}, nil, err
	}
	in, _ := c.apply(pr)
	if err := in.check(); err != nil {
		return Product{}, nil, err
	}
	if _, err := s.rule(in.Rule); err != nil {
		return Product{}, nil, err
	}
	if c.needsApproval(pr) {
		prop, err := s.propose(ctx, p, pr, c)
		return pr, prop, err
	}
	after, err := s.applyChange(ctx, p.Actor(), pr, c, 0)
	return after, nil, err
}

func (s *Store) propose(ctx context.Context, p access.Principal, pr Product, c ProductChange) (*Proposal, error) {
	prop := &Proposal{ProductID: pr.ID, BankID: pr.BankID, Change: c, Proposer: p.Actor(), Status: "pending"}
	err := s.change(ctx, &audit.Entry{Actor: p.Actor(), Action: "financing.product.propose", Subject: productSubject(pr.ID)},
		func(tx *metadb.Tx) (any, error) {
			id, err := tx.InsertID(ctx, `INSERT INTO financing_proposals (product_id, bank_id, change_json, proposer, proposer_user_id, status, created_at_ns)
				VALUES (?, ?, ?, ?, ?, 'pending', ?)`, pr.ID, pr.BankID, mustJSON(c), prop.Proposer, p.UserID, s.now().UnixNano())
			prop.ID = id
			return prop, err
		})
	if err != nil {
		return nil, fmt.Errorf("financing: propose: %w", err)
	}
	return prop, nil
}

// ApproveProposal applies a pending change. The approver needs the approver role
// at the product's bank (financing.approve) and must not be the proposer.
func (s *Store) ApproveProposal(ctx context.Context, p access.Principal, id int64) (Product, error) {
	var prop Proposal
	var change string
	var proposerID int64
	err := metadb.ScanOne(s.db.QueryRow(ctx, `SELECT id, product_id, bank_id, change_json, proposer, proposer_user_id, status
		FROM financing_proposals WHERE id = ?`, id), &prop.ID, &prop.ProductID, &prop.BankID, &change, &prop.Proposer, &proposerID, &prop.Status)
	res := access.Resource{Kind: "financing.proposal", ID: strconv.FormatInt(id, 10), Owner: prop.BankID, Operation: "financing.product.approve"}
	if noRows(err) {
		return Product{}, s.refuse(ctx, p, access.ActionFinancingApprove, res, fmt.Errorf("%w: proposal %d", ErrNotFound, id))
	}
	if err != nil {
		return Product{}, fmt.Errorf("financing: proposal %d: %w", id, err)
	}
	if err := s.allow(ctx, p, access.ActionFinancingApprove, res); err != nil {
		return Product{}, err
	}
	if proposerID == p.UserID || prop.Proposer == p.Actor() {
		return Product{}, s.refuse(ctx, p, access.ActionFinancingApprove, res, ErrFourEyes)
	}
	if prop.Status != "pending" {
		return Product{}, fmt.Errorf("%w: proposal %d is %s", ErrState, id, prop.Status)
	}
	if err := json.Unmarshal([]byte(change), &prop.Change); err != nil {
		return Product{}, fmt.Errorf("financing: proposal %d: %w", id, err)
	}
	pr, err := s.Product(ctx, prop.ProductID)
	if err != nil {
		return Product{}, err
	}
	return s.applyChange(ctx, p.Actor(), pr, prop.Change, id)
}

func (s *Store) applyChange(ctx context.Context, actor string, pr Product, c ProductChange, proposal int64) (Product, error) {
	in, ruleChanged := c.apply(pr)
	r, err := s.rule(in.Rule)
	if err != nil {
		return Product{}, err
	}
	after := pr
	after.Rule, after.LimitCap, after.MaxTerm, after.Rate, after.AutoApprove, after.AutoCap, after.rule =
		in.Rule, in.LimitCap, in.MaxTerm, in.Rate, in.AutoApprove, in.AutoCap, r
	if ruleChanged {
		after.RuleVer++
	}
	e := audit.Entry{Actor: actor, Action: "financing.product.change", Subject: productSubject(pr.ID), Before: pr}
	if proposal != 0 {
		e.Action = "financing.product.approve"
		e.Reason = "proposal " + strconv.FormatInt(proposal, 10)
	}
	err = s.change(ctx, &e, func(tx *metadb.Tx) (any, error) {
		if proposal != 0 {
			res, err := tx.Exec(ctx, `UPDATE financing_proposals SET status = 'approved', decided_by = ?, decided_at_ns = ? WHERE id = ? AND status = 'pending'`,
				actor, s.now().UnixNano(), proposal)
			if err != nil {
				return nil, err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return nil, fmt.Errorf("%w: proposal %d is no longer pending", ErrState, proposal)
			}
		}
		_, err := tx.Exec(ctx, `UPDATE financing_products SET rule = ?, rule_version = ?, limit_cap = ?, max_term = ?, rate = ?,
			auto_approve = ?, auto_cap = ?, updated_at_ns = ? WHERE id = ?`, after.Rule, after.RuleVer, after.LimitCap, after.MaxTerm,
			after.Rate, metadb.Bool(after.AutoApprove), after.AutoCap, s.now().UnixNano(), pr.ID)
		return after, err
	})
	if err != nil {
		return Product{}, fmt.Errorf("financing: change product %d: %w", pr.ID, err)
	}
	return after, nil
}

const productCols = `id, bank_id, name, rule, rule_version, limit_cap, max_term, rate, auto_approve, auto_cap, guarantor_id, guarantor_share, created_by`

type scanner interface{ Scan(dest ...any) error }

func (s *Store) scanProduct(row scanner) (Product, error) {
	var p Product
	var auto int
	if err := row.Scan(&p.ID, &p.BankID, &p.Name, &p.Rule, &p.RuleVer, &p.LimitCap, &p.MaxTerm, &p.Rate, &auto, &p.AutoCap,
		&p.GuarantorID, &p.GuarantorShare, &p.CreatedBy); err != nil {
		return Product{}, err
	}
	p.AutoApprove = auto != 0
	r, err := s.rule(p.Rule)
	if err != nil {
		return Product{}, fmt.Errorf("financing: stored rule of product %d: %w", p.ID, err)
	}
	p.rule = r
	return p, nil
}

// Product returns one product (trusted: no authorization; products are not
// secret to the banks' own staff, and callers check ownership).
func (s *Store) Product(ctx context.Context, id int64) (Product, error) {
	p, err := s.scanProduct(s.db.QueryRow(ctx, `SELECT `+productCols+` FROM financing_products WHERE id = ?`, id))
	if noRows(err) {
		return Product{}, fmt.Errorf("%w: product %d", ErrNotFound, id)
	}
	return p, err
}

// products lists products; bank 0 means every bank.
func (s *Store) products(ctx context.Context, bank int64) ([]Product, error) {
	q, args := `SELECT `+productCols+` FROM financing_products ORDER BY bank_id, id`, []any{}
	if bank != 0 {
		q, args = `SELECT `+productCols+` FROM financing_products WHERE bank_id = ? ORDER BY id`, []any{bank}
	}
	rows, err := s.db.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("financing: products: %w", err)
	}
	defer rows.Close()
	var out []Product
	for rows.Next() {
		p, err := s.scanProduct(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Products lists the products of the principal's bank.
func (s *Store) Products(ctx context.Context, p access.Principal) ([]Product, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.products", Owner: p.InstitutionID}); err != nil {
		return nil, err
	}
	return s.products(ctx, p.InstitutionID)
}

// Proposals lists the pending product changes of the principal's bank, oldest
// first.
func (s *Store) Proposals(ctx context.Context, p access.Principal) ([]Proposal, error) {
	if err := s.allow(ctx, p, access.ActionFinancingBank, access.Resource{Kind: "financing.products", Owner: p.InstitutionID}); err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT id, product_id, bank_id, change_json, proposer, status FROM financing_proposals
		WHERE bank_id = ? AND status = 'pending' ORDER BY id`, p.InstitutionID)
	if err != nil {
		return nil, fmt.Errorf("financing: proposals: %w", err)
	}
	defer rows.Close()
	var out []Proposal
	for rows.Next() {
		var pr Proposal
		var change string
		if err := rows.Scan(&pr.ID, &pr.ProductID, &pr.BankID, &change, &pr.Proposer, &pr.Status); err != nil {
			return nil, fmt.Errorf("financing: proposals: %w", err)
		}
		if err := json.Unmarshal([]byte(change), &pr.Change); err != nil {
			return nil, fmt.Errorf("financing: proposal %d: %w", pr.ID, err)
		}
		out = append(out, pr)
	}
	return out, rows.Err()
}

// ParticipatingBanks lists the banks a request may name: every bank with a
// product.
func (s *Store) ParticipatingBanks(ctx context.Context) ([]int64, error) { return s.participating(ctx) }
