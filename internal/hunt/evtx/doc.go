// Package evtx reads Windows XML event logs (.evtx) into hunt.Event
// values. It is kintsugi's own BinXML decoder: templates are compiled once
// per chunk into a flat list of ops, chunks are decoded in parallel, and a
// damaged file yields every record that can still be read, with the loss
// counted per file in Stats. Files are opened read-only and never written.
//
// It is imported by the hunt command and by tests; it never imports the
// case store, the CLI or the rule engines.
package evtx
