package datasets

import (
	"cmp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Match is one company found by Directory.Search, with how it matched.
type Match struct {
	Company CompanyRow
	// Kind is how the query matched, best first: "code" (the whole credit
	// code), "code-prefix", "name" (the whole name), "name-prefix" (the name or
	// the name without its leading place names), "contains", "in-order" (every
	// character of the query in order) or "similar" (every character
	// but one in order: a mistyped, missing or extra character).
	Kind string
}

// matchKinds in rank order.
var matchKinds = []string{"code", "code-prefix", "name", "name-prefix", "contains", "in-order", "similar"}

// MaxSearchQuery is the longest query Search reads, in characters.
const MaxSearchQuery = 60

// searchIndex is the normalized names of a directory, built on first search.
type searchIndex struct {
	codes []string // sorted
	names []string // normalized, parallel to codes
	cores []string // normalized names without leading place names
	masks []uint64 // a bit per rune of each name (runeBit): a quick refusal
}

// runeBit is the bit of r in a name's rune mask.
func runeBit(r rune) uint64 { return 1 << (uint32(r) * 0x9E3779B1 >> 26) }

// index returns the directory's search index, built on first use.
func (d *Directory) index() *searchIndex {
	d.searchOnce.Do(func() {
		ix := &searchIndex{codes: d.Codes()}
		ix.names = make([]string, len(ix.codes))
		ix.cores = make([]string, len(ix.codes))
		ix.masks = make([]uint64, len(ix.codes))
		for i, c := range ix.codes {
			n := normalizeName(d.rows[c].Name)
			ix.names[i], ix.cores[i] = n, coreName(n)
			for _, r := range n {
				ix.masks[i] |= runeBit(r)
			}
		}
		d.search = ix
	})
	return d.search
}

// Search finds companies by credit code or by name, best matches first, at
// most limit of them. Names match in the ways Match.Kind lists; case, width
// (full-width letters and digits), spaces and brackets do not matter. Within
// one kind, shorter names come first, then codes in order. A blank query finds
// nothing; a query is cut at MaxSearchQuery characters.
func (d *Directory) Search(query string, limit int) []Match {
	q := normalizeName(query)
	if utf8.RuneCountInString(q) > MaxSearchQuery {
		q = string([]rune(q)[:MaxSearchQuery])
	}
	if q == "" || limit <= 0 {
		return nil
	}
	ix := d.index()
	uq := strings.ToUpper(q)
	qr := []rune(q)
	qbits := make([]uint64, len(qr))
	for k, r := range qr {
		qbits[k] = runeBit(r)
	}
	// present counts the query's runes whose bit the name's mask has: an
	// upper bound of the runes the name holds.
	present := func(mask uint64) int {
		n := 0
		for _, b := range qbits {
			if mask&b != 0 {
				n++
			}
		}
		return n
	}
	fwd, bwd := make([]int, len(qr)+1), make([]int, len(qr)+1)
	type hit struct {
		i, kind, size int
	}
	var hits []hit
	for i, name := range ix.names {
		kind := -1
		switch code := ix.codes[i]; {
		case code == uq:
			kind = 0
		case len(uq) >= 2 && strings.HasPrefix(code, uq):
			kind = 1
		case present(ix.masks[i]) < len(qr)-1:
			// No kind of name match.
		case name == q:
			kind = 2
		case strings.HasPrefix(name, q) || strings.HasPrefix(ix.cores[i], q):
			kind = 3
		case strings.Contains(name, q):
			kind = 4
		case len(qr) >= 2 && inOrder(name, qr):
			kind = 5
		case len(qr) >= 3 && inOrderButOne(name, qr, fwd, bwd):
			kind = 6
		}
		if kind >= 0 {
			hits = append(hits, hit{i, kind, len(name)})
		}
	}
	slices.SortFunc(hits, func(a, b hit) int {
		if c := cmp.Compare(a.kind, b.kind); c != 0 {
			return c
		}
		if c := cmp.Compare(a.size, b.size); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})
	out := make([]Match, 0, min(limit, len(hits)))
	for _, h := range hits[:min(limit, len(hits))] {
		out = append(out, Match{Company: d.rows[ix.codes[h.i]], Kind: matchKinds[h.kind]})
	}
	return out
}

// normalizeName folds full-width ASCII to half width, letters to lower case,
// and drops spaces, brackets and the middle dot.
func normalizeName(s string) string {
	var b strings.Builder
	for _, r := range strings.TrimSpace(s) {
		if r >= 0xFF01 && r <= 0xFF5E { // full-width ASCII
			r -= 0xFEE0
		}
		switch {
		case unicode.IsSpace(r), strings.ContainsRune("()（）[]【】·•", r):
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// coreName drops up to two leading place names (a run ending in 省, 市, 区 or
// 县: "佛山市顺德区美的电器" → "美的电器"), as people search by trade name.
func coreName(n string) string {
	for range 2 {
		i := strings.IndexAny(n, "省市区县")
		if i <= 0 || i > 4*3 { // a place name of at most four characters
			break
		}
		_, size := utf8.DecodeRuneInString(n[i:])
		n = n[i+size:]
	}
	return n
}

// inOrder reports whether every rune of q occurs in name in order.
func inOrder(name string, q []rune) bool {
	pos := 0
	for _, r := range q {
		i := strings.IndexRune(name[pos:], r)
		if i < 0 {
			return false
		}
		pos += i + utf8.RuneLen(r)
	}
	return true
}

// inOrderButOne reports whether all runes of q but one occur in name in
// order: a query with one character mistyped, missing or extra. f[k] is where
// the earliest in-order match of q[:k] ends and b[k] where the latest match of
// q[k:] starts; dropping q[k] works when f[k] <= b[k+1]. f and b have room for
// len(q)+1 entries.
func inOrderButOne(name string, q []rune, f, b []int) bool {
	n := len(q)
	const none = -1
	f[0] = 0
	for k, r := range q {
		f[k+1] = none
		if f[k] == none {
			continue
		}
		if i := strings.IndexRune(name[f[k]:], r); i >= 0 {
			f[k+1] = f[k] + i + utf8.RuneLen(r)
		}
	}
	b[n] = len(name)
	for k := n - 1; k >= 0; k-- {
		b[k] = none
		if b[k+1] == none {
			continue
		}
		var buf [utf8.UTFMax]byte
		if i := strings.LastIndex(name[:b[k+1]], string(buf[:utf8.EncodeRune(buf[:], q[k])])); i >= 0 {
			b[k] = i
		}
	}
	for k := range n {
		if f[k] != none && b[k+1] != none && f[k] <= b[k+1] {
			return true
		}
	}
	return false
}
