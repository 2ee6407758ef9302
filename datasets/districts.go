package datasets

// District is one county-level division of the generated region with its
// English name and its place on the region's tile map: a grid of equal tiles,
// one per district, placed so that neighbours on the ground stay neighbours on
// the grid (Col counts from the west, Row from the north).
type District struct {
	Code, Name, NameEN string
	Col, Row           int
}

// districtTiles are the English names and grid places of the generator's
// districts of 佛山 (Foshan), by division code:
//
//	三水 南海
//	高明 禅城
//	     顺德
var districtTiles = map[string]struct {
	nameEN   string
	col, row int
}{
	"440607": {"Sanshui", 0, 0},
	"440605": {"Nanhai", 1, 0},
	"440608": {"Gaoming", 0, 1},
	"440604": {"Chancheng", 1, 1},
	"440606": {"Shunde", 1, 2},
}

// Districts lists the generator's districts in the order of their division
// codes, each with its place on the tile map.
func Districts() []District {
	out := make([]District, len(districts))
	for i, d := range districts {
		t := districtTiles[d.Code]
		out[i] = District{Code: d.Code, Name: d.Name, NameEN: t.nameEN, Col: t.col, Row: t.row}
	}
	return out
}

// DistrictNameEN is the English name of a district of the generated region by
// its Chinese name, or "" when it is not one of them.
func DistrictNameEN(name string) string {
	for _, d := range districts {
		if d.Name == name {
			return districtTiles[d.Code].nameEN
		}
	}
	return ""
}
