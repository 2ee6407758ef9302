package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/xinyi-platform/xinyi/internal/access"
	"github.com/xinyi-platform/xinyi/serving"
)

func init() {
	register(command{name: "access bind", summary: "bind a company account to its company on verified evidence (an operator's binding), end a binding, or list them", run: runAccessBind})
	register(command{name: "access consent", summary: "record a company's consent for a bank to assess it (or revoke one, or list them)", run: runAccessConsent})
}

func runAccessConsent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("access consent", stderr)
	mf := addMetaFlags(fs, false)
	company := fs.String("company", "", "unified social credit code of the company (required)")
	bank := fs.String("bank", "", "name of the bank institution the company authorizes (required to grant)")
	scope := fs.String("scope", serving.ConsentScope, "what the bank may do")
	valid := fs.Duration("valid", 365*24*time.Hour, "how long the consent lasts")
	revoke := fs.Int64("revoke", 0, "revoke the consent with this id instead of granting")
	list := fs.Bool("list", false, "list the company's consents instead of granting")
	actor := fs.String("actor", "operator", "name recorded in the audit log as who made the change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, _, acc, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case *revoke > 0:
		if err := acc.RevokeConsent(ctx, *actor, *revoke); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "consent %d revoked\n", *revoke)
		return nil
	case *list:
		if err := required("company", *company); err != nil {
			return err
		}
		cs, err := acc.Consents(ctx, *company)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(cs)
	}
	for _, r := range [][2]string{{"company", *company}, {"bank", *bank}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	in, err := acc.InstitutionByName(ctx, *bank)
	if err != nil {
		return fmt.Errorf("-bank %q: %w", *bank, err)
	}
	c, err := acc.GrantConsent(ctx, *actor, access.ConsentGrant{CompanyCode: *company, BankID: in.ID, Scope: *scope, ExpiresAt: time.Now().Add(*valid)})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "consent %d: %s authorizes %s for %s until %s\n", c.ID, c.CompanyCode, in.Name, c.Scope, c.ExpiresAt.Format(time.DateOnly))
	return nil
}

func runAccessBind(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("access bind", stderr)
	mf := addMetaFlags(fs, false)
	user := fs.String("user", "", "the company account (a user with the enterprise role at an enterprise institution)")
	company := fs.String("company", "", "unified social credit code of the company")
	evidence := fs.String("evidence", "", "what was verified: the electronic business licence (企业身份码) serial, or the sealed authorization's reference (required to bind)")
	revoke := fs.Int64("revoke", 0, "end the binding with this id (and its delegations) instead of binding")
	list := fs.Bool("list", false, "list the accounts bound to --company instead of binding")
	actor := fs.String("actor", "operator", "name recorded in the audit log as who made the change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	db, _, acc, err := openMeta(ctx, mf)
	if err != nil {
		return err
	}
	defer db.Close()
	switch {
	case *revoke > 0:
		if err := acc.RevokeBinding(ctx, *actor, 0, *revoke); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "binding %d ended\n", *revoke)
		return nil
	case *list:
		if err := required("company", *company); err != nil {
			return err
		}
		bs, err := acc.CompanyBindings(ctx, *company)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(bs)
	}
	for _, r := range [][2]string{{"user", *user}, {"company", *company}, {"evidence", *evidence}} {
		if err := required(r[0], r[1]); err != nil {
			return err
		}
	}
	u, err := acc.UserByName(ctx, *user)
	if err != nil {
		return fmt.Errorf("--user %q: %w", *user, err)
	}
	b, err := acc.BindByOperator(ctx, *actor, u.ID, *company, *evidence)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "binding %d: %s acts for %s as its legal representative (verified: %s)\n", b.ID, u.Name, b.CompanyCode, b.Evidence)
	return nil
}
