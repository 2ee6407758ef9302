package metadb

var ScopedChannel = scopedChannel

// StopRenewing stops the lease's renewal without releasing it, as a killed
// holder leaves it.
func (l *Lease) StopRenewing() { l.halt() }
