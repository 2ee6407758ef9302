//go:build race

package gbdt

// shapRace: the race detector makes sync.Pool drop items at random, so
// allocation counts are not checked under it.
const shapRace = true
