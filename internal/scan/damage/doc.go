// Package damage decides whether a file was encrypted by ransomware, in whole
// or in part, without being fooled by compressed media that merely looks
// random.
//
// It combines three kinds of evidence:
//
//   - format validators that know where structure must be (box headers, KLV
//     keys, markers, chunk CRCs, central directories, page headers) and
//     report where it is missing and whether the bytes found there instead
//     are random;
//   - an entropy profile of sampled blocks (Shannon entropy and chi-square of
//     a 256-bin histogram) that finds random blocks and periodic random
//     stripes inside data that is otherwise structured;
//   - the bytes after a format's logical end, where ransomware appends its
//     key blob, matched against known family footers and markers
//     (families.json, embedded and replaceable).
//
// Classify is the pure entry point (used by scan, watch, migrate and the
// tests); Detector plugs it into the scan engine, in streaming, whole-file
// and quick (sampling) modes. HostImpact folds the evidence of a host's
// damaged files into the summary the case store keeps.
//
// The package does no I/O of its own beyond the io.ReaderAt it is given and
// never imports the case store or the CLI.
package damage
