package financing

import (
	"context"

	"github.com/xinyi-platform/xinyi/datasets"
)

// RegistryDirectory is a Directory over the business registry as known on one
// date (datasets.Directory): industry, district and founding date. It knows no
// firm size and no loans outside the platform (Size "", HadLoan false).
func RegistryDirectory(d *datasets.Directory) Directory { return registryDirectory{d} }

type registryDirectory struct{ d *datasets.Directory }

func (r registryDirectory) Company(_ context.Context, code string) (Company, error) {
	row, ok := r.d.Company(code)
	if !ok {
		return Company{Code: code}, nil
	}
	return Company{Code: code, Industry: row.Industry, District: row.District, Founded: row.Founded.Time()}, nil
}
