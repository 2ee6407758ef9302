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

// aucParallelRows is the number of rows from which aucRadix sorts the
// negatives in two halves on two goroutines.
const aucParallelRows = 1 << 16

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
// present, no NaN scores: checked by the caller), ties counting one half. A
// large set's negatives are sorted as two halves in parallel when threads > 1;
// a positive's counts are the sums over the halves, so the value does not
// depend on threads.
func (sc *aucScratch) aucRadix(y, s []float64, threads int) float64 {
	sc.pos, sc.neg = sc.pos[:0], sc.neg[:0]
	s = s[:len(y)]
	for i, v := range y {
		if v == 1 {
			sc.pos = append(sc.pos, scoreKey(s[i]))
		} else {
			sc.neg = append(sc.neg, scoreKey(s[i]))
		}
	}
	nneg := len(sc.neg)
	if cap(sc.tmpNeg) < nneg {
		sc.tmpNeg = make([]uint64, nneg)
	}
	var pos []uint64
	var neg [2][]uint64
	if threads > 1 && len(y) >= aucParallelRows {
		half := nneg / 2
		tmpA, tmpB := sc.tmpNeg[:half], sc.tmpNeg[half:nneg]
		parallelFor(2, 2, func(k int) {
			if k == 0 {
				neg[0] = radixSort(sc.neg[:half], &tmpA)
				pos = radixSort(sc.pos, &sc.tmpPos)
			} else {
				neg[1] = radixSort(sc.neg[half:], &tmpB)
			}
		})
	} else {
		pos = radixSort(sc.pos, &sc.tmpPos)
		neg[0] = radixSort(sc.neg, &sc.tmpNeg)
	}
	// For each positive, the negatives below it count 1 and those tied count
	// one half; positives arrive in ascending order, so one pass suffices.
	var lt, eq [2]int // negatives below, and tied with, the current positive
	var num float64
	for k := 0; k < len(pos); {
		p := pos[k]
		var below, tied int
		for h, ng := range neg {
			l, e := lt[h]+eq[h], 0
			for l < len(ng) && ng[l] < p {
				l++
			}
			for l+e < len(ng) && ng[l+e] == p {
				e++
			}
			lt[h], eq[h] = l, e
			below += l
			tied += e
		}
		same := 0
		for k < len(pos) && pos[k] == p {
			same++
			k++
		}
		num += float64(same) * (float64(below) + float64(tied)/2)
	}
	return num / (float64(len(pos)) * float64(nneg))
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
