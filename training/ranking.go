package training

import "math"

// The AUC of a large scored set (the training rows, every round, when
// Params.Progress is set) dominated training time with a comparison sort.
// aucRadix counts, for every positive, the negatives scored below it and
// those tied with it, after sorting the positives' and the negatives' scores
// separately with a radix sort on order-preserving integer keys: linear time,
// no comparisons, and the same exact value as the mid-rank formula (the
// numerator is a sum of integers and halves, exact below 2^53).

// aucScratch holds the buffers of aucRadix so that a caller scoring every
// round allocates them once.
type aucScratch struct {
	pos, neg, tmpPos, tmpNeg []uint64
}

// scoreKey maps a non-NaN score to a uint64 whose unsigned order is the
// score's numeric order (-0 and +0 map to the same key, as they are equal).
func scoreKey(s float64) uint64 {
	if s == 0 {
		s = 0
	}
	u := math.Float64bits(s)
	if u>>63 == 1 {
		return ^u
	}
	return u | 1<<63
}

// aucRadix returns the AUC of scores s for labels y (0/1, both classes
// present, no NaN scores: checked by the caller), ties counting one half.
func (sc *aucScratch) aucRadix(y, s []float64) float64 {
	sc.pos, sc.neg = sc.pos[:0], sc.neg[:0]
	s = s[:len(y)]
	for i, v := range y {
		if v == 1 {
			sc.pos = append(sc.pos, scoreKey(s[i]))
		} else {
			sc.neg = append(sc.neg, scoreKey(s[i]))
		}
	}
	pos := radixSort(sc.pos, &sc.tmpPos)
	neg := radixSort(sc.neg, &sc.tmpNeg)
	// For each positive, the negatives below it count 1 and those tied count
	// one half; positives arrive in ascending order, so one pass suffices.
	var lt, eq int // negatives below, and tied with, the current positive
	var num float64
	for k := 0; k < len(pos); {
		p := pos[k]
		lt += eq
		eq = 0
		for lt < len(neg) && neg[lt] < p {
			lt++
		}
		for lt+eq < len(neg) && neg[lt+eq] == p {
			eq++
		}
		same := 0
		for k < len(pos) && pos[k] == p {
			same++
			k++
		}
		num += float64(same) * (float64(lt) + float64(eq)/2)
	}
	return num / (float64(len(pos)) * float64(len(neg)))
}

// radixBits is the digit width of radixSort: six passes cover 64 bits.
const radixBits = 11

// radixSort sorts keys in ascending order (LSD radix sort, skipping the
// digits that every key shares) and returns the sorted slice, which is keys
// or *tmp (grown as needed).
func radixSort(keys []uint64, tmp *[]uint64) []uint64 {
	const buckets = 1 << radixBits
	const passes = (64 + radixBits - 1) / radixBits
	var counts [passes][buckets]int
	for _, k := range keys {
		for p := range passes {
			counts[p][(k>>(p*radixBits))&(buckets-1)]++
		}
	}
	if cap(*tmp) < len(keys) {
		*tmp = make([]uint64, len(keys))
	}
	src, dst := keys, (*tmp)[:len(keys)]
	for p := range passes {
		c := &counts[p]
		if len(keys) == 0 || c[(keys[0]>>(p*radixBits))&(buckets-1)] == len(keys) {
			continue // every key has the same digit here
		}
		at := 0
		for b := range c {
			at, c[b] = at+c[b], at
		}
		shift := p * radixBits
		for _, k := range src {
			d := (k >> shift) & (buckets - 1)
			dst[c[d]] = k
			c[d]++
		}
		src, dst = dst, src
	}
	return src
}
