package features

import (
	"strings"
	"testing"

	"github.com/xinyi-platform/xinyi/datasets"
)

// TestSourcesAgreeWithContracts holds catalog/sources.yaml to the source contracts
// of datasets: the same tables (kinds, departments and keys are taken from the
// contracts), and every column an indicator may aggregate is a numeric (or, for an
// id column, any) column of the contract. age_months is derived from founded by
// the materializer.
func TestSourcesAgreeWithContracts(t *testing.T) {
	cat, err := DefaultCatalog()
	if err != nil {
		t.Fatal(err)
	}
	contracts, err := datasets.Contracts()
	if err != nil {
		t.Fatal(err)
	}
	if len(cat.Sources()) != len(contracts) {
		t.Errorf("catalog has %d sources, datasets %d contracts", len(cat.Sources()), len(contracts))
	}
	for _, s := range cat.Sources() {
		c, err := datasets.ContractOf(s.Name)
		if err != nil {
			t.Errorf("catalog source %s: %v", s.Name, err)
			continue
		}
		if string(s.Kind) != c.KindName {
			t.Errorf("%s: kind %s, contract %s", s.Name, s.Kind, c.KindName)
		}
		if s.Department != c.Department {
			t.Errorf("%s: department %q, contract %q", s.Name, s.Department, c.Department)
		}
		if s.NameZH != c.NameZh {
			t.Errorf("%s: name_zh %q, contract %q", s.Name, s.NameZH, c.NameZh)
		}
		switch s.Kind {
		case KindEvent, KindRelation:
			if len(c.Key) != 1 || c.Key[0] != s.IDColumn {
				t.Errorf("%s: id_column %q, contract key %v", s.Name, s.IDColumn, c.Key)
			}
		}
		for _, name := range s.Columns {
			if s.Name == datasets.SourceCompanies && name == "age_months" {
				continue
			}
			col, ok := c.Column(name)
			if !ok {
				t.Errorf("%s: column %s is not in the contract", s.Name, name)
				continue
			}
			switch col.Type {
			case datasets.TypeFloat, datasets.TypeInt, datasets.TypeBool:
			default:
				if name != s.IDColumn {
					t.Errorf("%s: column %s is %s, not numeric", s.Name, name, col.Type)
				}
			}
		}
	}
}

// TestCatalogSourceFromContract: a catalog source takes its kind, department and key
// from the datasets contract, and a value that disagrees with it is an error.
func TestCatalogSourceFromContract(t *testing.T) {
	c, err := ParseCatalog(map[string][]byte{"s.yaml": []byte("sources:\n  - name: court\n    columns: [amount]\n")})
	if err != nil {
		t.Fatal(err)
	}
	s, _ := c.Source("court")
	if s.Kind != KindEvent || s.IDColumn != "case_id" || s.NameZH != "法院" || s.Department != "人民法院 courts" {
		t.Fatalf("source %+v", s)
	}
	for doc, want := range map[string]string{
		"sources:\n  - name: court\n    kind: monthly\n    columns: [amount]\n":        `s.yaml:2: source "court": kind "monthly", the datasets contract says "event"`,
		"sources:\n  - name: court\n    id_column: record_id\n    columns: [amount]\n": `id_column "record_id", the datasets contract says "case_id"`,
		"sources:\n  - name: weather\n    columns: [rain]\n":                           `source "weather": not a department table of datasets`,
	} {
		_, err := ParseCatalog(map[string][]byte{"s.yaml": []byte(doc)})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %q", err, want)
		}
	}
}
