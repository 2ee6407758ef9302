//go:build !race

package gbdt

const shapRace = false
