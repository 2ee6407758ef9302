package training

// The histogram kernels add each row's gradient pair to the bin of up to four
// features in one pass over the rows, so the gradients are read once per
// group of features rather than once per feature. The "Full" variants walk
// every row in order (a root holding all rows); the others walk a leaf's rows
// with the gradients already gathered in row order. The variants differ only
// in the number of features; change them alike.

func hist1(h0 []histBin, c0 []uint8, rows []uint32, og []gradPair) {
	og = og[:len(rows)]
	for i, r := range rows {
		x := og[i]
		e0 := &h0[c0[r]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
	}
}

func hist1Full(h0 []histBin, c0 []uint8, gh []gradPair) {
	gh = gh[:len(c0)]
	for i, x := range gh {
		e0 := &h0[c0[i]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
	}
}

func hist2(h0, h1 []histBin, c0, c1 []uint8, rows []uint32, og []gradPair) {
	og = og[:len(rows)]
	for i, r := range rows {
		x := og[i]
		e0 := &h0[c0[r]]
		e1 := &h1[c1[r]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
		e1.g += x.g
		e1.h += x.h
		e1.n++
	}
}

func hist2Full(h0, h1 []histBin, c0, c1 []uint8, gh []gradPair) {
	gh = gh[:len(c0)]
	c1 = c1[:len(c0)]
	for i, x := range gh {
		e0 := &h0[c0[i]]
		e1 := &h1[c1[i]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
		e1.g += x.g
		e1.h += x.h
		e1.n++
	}
}

func hist3(h0, h1, h2 []histBin, c0, c1, c2 []uint8, rows []uint32, og []gradPair) {
	og = og[:len(rows)]
	for i, r := range rows {
		x := og[i]
		e0 := &h0[c0[r]]
		e1 := &h1[c1[r]]
		e2 := &h2[c2[r]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
		e1.g += x.g
		e1.h += x.h
		e1.n++
		e2.g += x.g
		e2.h += x.h
		e2.n++
	}
}

func hist3Full(h0, h1, h2 []histBin, c0, c1, c2 []uint8, gh []gradPair) {
	gh = gh[:len(c0)]
	c1 = c1[:len(c0)]
	c2 = c2[:len(c0)]
	for i, x := range gh {
		e0 := &h0[c0[i]]
		e1 := &h1[c1[i]]
		e2 := &h2[c2[i]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
		e1.g += x.g
		e1.h += x.h
		e1.n++
		e2.g += x.g
		e2.h += x.h
		e2.n++
	}
}

func hist4(h0, h1, h2, h3 []histBin, c0, c1, c2, c3 []uint8, rows []uint32, og []gradPair) {
	og = og[:len(rows)]
	for i, r := range rows {
		x := og[i]
		e0 := &h0[c0[r]]
		e1 := &h1[c1[r]]
		e2 := &h2[c2[r]]
		e3 := &h3[c3[r]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
		e1.g += x.g
		e1.h += x.h
		e1.n++
		e2.g += x.g
		e2.h += x.h
		e2.n++
		e3.g += x.g
		e3.h += x.h
		e3.n++
	}
}

func hist4Full(h0, h1, h2, h3 []histBin, c0, c1, c2, c3 []uint8, gh []gradPair) {
	gh = gh[:len(c0)]
	c1 = c1[:len(c0)]
	c2 = c2[:len(c0)]
	c3 = c3[:len(c0)]
	for i, x := range gh {
		e0 := &h0[c0[i]]
		e1 := &h1[c1[i]]
		e2 := &h2[c2[i]]
		e3 := &h3[c3[i]]
		e0.g += x.g
		e0.h += x.h
		e0.n++
		e1.g += x.g
		e1.h += x.h
		e1.n++
		e2.g += x.g
		e2.h += x.h
		e2.n++
		e3.g += x.g
		e3.h += x.h
		e3.n++
	}
}
