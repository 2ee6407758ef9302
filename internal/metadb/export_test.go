package metadb

var ScopedChannel = scopedChannel
