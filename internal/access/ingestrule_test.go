package access

import (
	"errors"
	"testing"
)

func TestDecideIngest(t *testing.T) {
	tax := Principal{User: "li", Institution: "税务局", InstitutionID: 7, InstitutionKind: KindDepartment, Roles: []Role{RoleDepartment}}
	court := Principal{User: "wang", Institution: "法院", InstitutionID: 8, InstitutionKind: KindDepartment, Roles: []Role{RoleDepartment}}
	admin := Principal{User: "ops", Institution: "platform", InstitutionID: 1, InstitutionKind: KindPlatform, Roles: []Role{RoleAdmin}}
	bankAdmin := Principal{User: "boss", Institution: "bank", InstitutionID: 3, InstitutionKind: KindBank, Roles: []Role{RoleAdmin, RoleDepartment}}
	taxSource := Resource{Kind: "source", ID: "tax", Owner: 7}
	unowned := Resource{Kind: "source", ID: "ip"}
	tests := []struct {
		name string
		p    Principal
		a    Action
		res  Resource
		ok   bool
	}{
		{"own source", tax, ActionIngest, taxSource, true},
		{"own history", tax, ActionReadIngest, taxSource, true},
		{"another department's source", court, ActionIngest, taxSource, false},
		{"another department's history", court, ActionReadIngest, taxSource, false},
		{"a source no department owns", tax, ActionIngest, unowned, false},
		{"platform administrator", admin, ActionIngest, unowned, true},
		{"department role outside a department", bankAdmin, ActionIngest, Resource{Kind: "source", ID: "tax", Owner: 3}, false},
		{"department without the role", Principal{User: "x", InstitutionID: 7, InstitutionKind: KindDepartment}, ActionIngest, taxSource, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decide(tt.p, tt.a, tt.res)
			if tt.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tt.ok && !errors.Is(err, ErrForbidden) {
				t.Fatalf("err = %v, want ErrForbidden", err)
			}
		})
	}
}
