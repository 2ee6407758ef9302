package datasets

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func searchDir(names map[string]string) *Directory {
	d := &Directory{rows: map[string]CompanyRow{}}
	for code, name := range names {
		d.rows[code] = CompanyRow{Code: code, Name: name}
	}
	return d
}

func TestDirectorySearch(t *testing.T) {
	d := searchDir(map[string]string{
		"91440606MA4UAAAA01": "佛山市顺德区华兴贸易有限公司",
		"91440606MA4UAAAB02": "佛山市顺德区华兴电器股份有限公司",
		"91440605MA4UAAAC03": "佛山市南海区兴华五金有限公司",
		"91440604MA4UAAAD04": "佛山市禅城区美达纺织有限公司",
		"92440604MA4UAAAE05": "佛山市禅城区华兴经营部",
		"91440608MA4UAAAF06": "佛山市高明区ＡＢＣ科技有限公司",
	})
	type hit struct{ code, kind string }
	cases := []struct {
		q    string
		want []hit
	}{
		{"91440606MA4UAAAA01", []hit{{"91440606MA4UAAAA01", "code"}}},
		{"91440606ma4uaaaa01 ", []hit{{"91440606MA4UAAAA01", "code"}}},
		// Within a kind, shorter names first (ABC is three bytes), then codes in order.
		{"9144060", []hit{{"91440608MA4UAAAF06", "code-prefix"}, {"91440604MA4UAAAD04", "code-prefix"}, {"91440605MA4UAAAC03", "code-prefix"}, {"91440606MA4UAAAA01", "code-prefix"}, {"91440606MA4UAAAB02", "code-prefix"}}},
		// The trade name without the place names is a prefix; shorter names first.
		{"华兴", []hit{{"92440604MA4UAAAE05", "name-prefix"}, {"91440606MA4UAAAA01", "name-prefix"}, {"91440606MA4UAAAB02", "name-prefix"}}},
		{"兴华", []hit{{"91440605MA4UAAAC03", "name-prefix"}}},
		{"华五金", []hit{{"91440605MA4UAAAC03", "contains"}}},
		{"佛山市禅城区美达纺织有限公司", []hit{{"91440604MA4UAAAD04", "name"}}},
		{"兴贸易", []hit{{"91440606MA4UAAAA01", "contains"}}},
		// Every character in order, with gaps.
		{"顺德华兴电器", []hit{{"91440606MA4UAAAB02", "in-order"}}},
		// One character mistyped (星 for 兴).
		{"华星贸易", []hit{{"91440606MA4UAAAA01", "similar"}}},
		// Full-width letters and case fold; brackets and spaces drop.
		{"abc 科技", []hit{{"91440608MA4UAAAF06", "name-prefix"}}},
		{"（ＢＣ）", []hit{{"91440608MA4UAAAF06", "contains"}}},
		{"   ", nil},
		{"钢铁", nil},
	}
	for _, c := range cases {
		t.Run(c.q, func(t *testing.T) {
			var got []hit
			for _, m := range d.Search(c.q, 10) {
				got = append(got, hit{m.Company.Code, m.Kind})
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("Search(%q) = %v, want %v", c.q, got, c.want)
			}
		})
	}
	if got := d.Search("华兴", 2); len(got) != 2 || got[0].Company.Code != "92440604MA4UAAAE05" {
		t.Errorf("limit 2: %v", got)
	}
	if got := d.Search("华兴", 0); got != nil {
		t.Errorf("limit 0: %v", got)
	}
}

func BenchmarkDirectorySearch(b *testing.B) {
	d := &Directory{rows: map[string]CompanyRow{}}
	trade := []rune("华兴美达安泰宏远鑫盛永利恒通德隆金源瑞丰嘉豪")
	words := []string{"贸易", "电器", "五金", "纺织", "科技", "家具", "陶瓷", "物流"}
	dists := []string{"禅城区", "南海区", "顺德区", "高明区", "三水区"}
	for i := range 120000 {
		name := fmt.Sprintf("佛山市%s%c%c%s有限公司", dists[i%5], trade[i%len(trade)], trade[(i/7)%len(trade)], words[(i/3)%len(words)])
		code := fmt.Sprintf("914406%012d", i)
		d.rows[code] = CompanyRow{Code: code, Name: name}
	}
	d.Search("x", 1) // build the index
	for _, q := range []string{"华兴贸易", "顺德美达纺织", "华星贸易", "9144060000001"} {
		b.Run(q, func(b *testing.B) {
			for b.Loop() {
				d.Search(q, 20)
			}
		})
	}
}

// TestInOrderButOne compares the one-pass check with dropping each character
// in turn.
func TestInOrderButOne(t *testing.T) {
	alphabet := []rune("华兴贸易有限公司a1")
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) []rune {
		w := make([]rune, n)
		for i := range w {
			w[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return w
	}
	for range 20000 {
		name, q := string(word(rng.IntN(12))), word(3+rng.IntN(4))
		want := false
		for skip := range q {
			if inOrder(name, slices.Concat(q[:skip], q[skip+1:])) {
				want = true
			}
		}
		f, b := make([]int, len(q)+1), make([]int, len(q)+1)
		if got := inOrderButOne(name, q, f, b); got != want {
			t.Fatalf("inOrderButOne(%q, %q) = %v, want %v", name, string(q), got, want)
		}
	}
}
